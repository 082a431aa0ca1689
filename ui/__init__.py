"""The Gradio chat app over a Notebook."""
