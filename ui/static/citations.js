() => {
  // Runs once in the page: turns "[n]" in answers into links, and a click on a link opens it in the source panel.
  // Answers stay plain text (so the copy button copies "[1]", not HTML); the links are added in the page only.
  const ONE = /\[(\d{1,3})\]/;
  const ALL = /\[(\d{1,3})\]/g;
  const linkify = () => {
    document.querySelectorAll('#chatbot [data-testid="bot"]').forEach((message, turn) => {
      const walker = document.createTreeWalker(message, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) {
        const node = walker.currentNode;
        if (ONE.test(node.data) && !node.parentElement.closest('a, code, pre')) found.push(node);
      }
      for (const node of found) {
        const parts = document.createDocumentFragment();
        let last = 0;
        for (const m of node.data.matchAll(ALL)) {
          parts.append(node.data.slice(last, m.index));
          const link = document.createElement('a');
          link.className = 'cite';
          link.href = '#cite:' + turn + ':' + m[1];
          link.textContent = m[0];
          parts.append(link);
          last = m.index + m[0].length;
        }
        parts.append(node.data.slice(last));
        node.replaceWith(parts);
      }
    });
  };
  // Chat messages reach the page HTML-escaped (ui/chat.py): the copy buttons would copy "&lt;" for "<" and
  // "&amp;" for "&". While one of them is clicked, the text it writes to the clipboard is unescaped.
  let copying = false;
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('#chatbot button[aria-label^="Copy"]')) {
      copying = true;
      setTimeout(() => { copying = false; }, 0);
    }
  }, true);
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    const ENTITY = {'&amp;': '&', '&lt;': '<', '&gt;': '>'};
    navigator.clipboard.writeText = (text) =>
      write(copying ? String(text).replace(/&(amp|lt|gt);/g, (m) => ENTITY[m]) : text);
  }
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; linkify(); }); }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.__citeKey = decodeURIComponent(link.getAttribute('href').slice(1));
    document.querySelector('#cite-go')?.click();
  }, true);
}
