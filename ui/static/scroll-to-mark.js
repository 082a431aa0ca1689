() => {
  // After the source panel changes: scroll its first <mark> into the middle of the document box.
  let tries = 0;
  const go = () => {
    const mark = document.querySelector('#source-panel mark');
    const box = mark && mark.closest('.doc-text');
    if (!box) { if (++tries < 20) setTimeout(go, 100); return; }
    box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
    document.querySelector('#source-panel').scrollIntoView({block: 'nearest'});
  };
  setTimeout(go, 50);
}
