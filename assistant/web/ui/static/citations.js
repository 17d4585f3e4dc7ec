(() => {
  if (window.__elmoCitations) return;
  window.__elmoCitations = true;
  // window.__elmoTexts: {lang: {key: text}} from assistant/i18n.py, written into the page head by the server
  const texts = () => {
    const all = window.__elmoTexts || {};
    return all[document.documentElement.lang] || all.fi || {};
  };
  const say = (key, n) => String(texts()[key] || key).replace('{n}', n);
  const narrow = () => window.matchMedia('(max-width: 768px)').matches;
  let marker = null;  // the [n] the open passage was reached from

  // persistent nodes outside Gradio's tree (Gradio re-renders its own): a live region and "back to the answer"
  const live = document.createElement('div');
  live.id = 'elmo-live';
  live.className = 'elmo-sr';
  live.setAttribute('role', 'status');
  live.setAttribute('aria-live', 'polite');
  const back = document.createElement('button');
  back.id = 'elmo-back';
  back.type = 'button';
  back.hidden = true;
  const attach = () => document.body.append(live, back);
  if (document.body) attach(); else document.addEventListener('DOMContentLoaded', attach);

  // scroll a container (not the page) so that el is visible near its top
  const reveal = (container, el, pad) => {
    if (!container || !el) return;
    const c = container.getBoundingClientRect(), e = el.getBoundingClientRect();
    container.scrollTop += (e.top - c.top) - pad;
  };
  // narrow screens: the sources panel opens as a drawer over the chat (elmo.css)
  const drawer = (open) => {
    document.getElementById('elmo-tabs')?.toggleAttribute('data-drawer', open);
    back.classList.toggle('elmo-over-drawer', open);
  };
  const closeDrawer = () => {
    drawer(false);
    back.hidden = true;
  };
  const show = (card, from) => {
    const turn = card.closest('.elmo-turn');
    if (turn) {
      document.querySelectorAll('.elmo-turn.current').forEach((t) => t.classList.remove('current'));
      turn.classList.add('current');
    }
    document.querySelectorAll('.elmo-passage.active').forEach((c) => {
      c.classList.remove('active');
      c.querySelector('.elmo-context')?.removeAttribute('tabindex');
    });
    card.classList.add('active');
    const context = card.querySelector('.elmo-context');
    if (context) context.tabIndex = 0;  // a scrollable region must be reachable by keyboard
    if (from) {
      marker = from;
      back.textContent = '← ' + say('back_to_answer');
      back.hidden = false;
      drawer(narrow());
    }
    const panel = document.getElementById('elmo-sources');
    if (panel) {
      const r = panel.getBoundingClientRect();
      if (r.top > window.innerHeight || r.bottom < 0) panel.scrollIntoView({block: 'start'});
      reveal(panel, card, 8);
    }
    reveal(context, card.querySelector('mark'), 24);
    if (from) card.focus({preventScroll: true});
    live.textContent = card.dataset.announce || '';
  };
  back.addEventListener('click', () => {
    closeDrawer();
    if (marker && marker.isConnected) {
      marker.scrollIntoView({block: 'center'});
      marker.focus();
    }
  });
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const link = target.closest('a[href^="#elmo-cite-"]');
    if (link) {
      ev.preventDefault();
      ev.stopPropagation();
      const card = document.getElementById(link.getAttribute('href').slice(1));
      if (card) show(card, link);
      return;
    }
    const card = target.closest('.elmo-passage');
    if (card && !target.closest('a')) show(card, null);
  }, true);
  document.addEventListener('keydown', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (ev.key === 'Escape' && !back.hidden) {
      back.click();
      return;
    }
    if ((ev.key === 'Enter' || ev.key === ' ') && target && target.matches('.elmo-passage')) {
      ev.preventDefault();
      show(target, null);
    }
  });

  // Plain-text labels for what Gradio labels itself: the [n] markers ("lähde 1", not the Markdown), the
  // messages (Gradio's aria-label repeats the raw Markdown: without it the text itself is read), and the
  // 👍/👎 buttons, whose selected state Gradio labels in English only ("Liked").
  const PRESSED = {Liked: ['like', 'liked'], Disliked: ['dislike', 'disliked']};
  const label = (root) => {
    root.querySelectorAll('a[href^="#elmo-cite-"]').forEach((a) => {
      const n = (a.getAttribute('href').match(/-(\d+)$/) || [])[1];
      const want = say('cite_label', n);
      if (n && a.getAttribute('aria-label') !== want) a.setAttribute('aria-label', want);
    });
    root.querySelectorAll('[data-testid="bot"][aria-label], [data-testid="user"][aria-label]').forEach(
      (m) => m.removeAttribute('aria-label'));
    root.querySelectorAll('button[aria-label]').forEach((b) => {
      const key = PRESSED[b.getAttribute('aria-label')];
      if (key && texts()[key[1]]) {
        b.setAttribute('aria-label', texts()[key[1]]);
        b.setAttribute('aria-pressed', 'true');
        b.dataset.elmoPressed = '1';
      } else if (b.dataset.elmoPressed && !Object.values(texts()).includes(b.getAttribute('aria-label'))) {
        b.removeAttribute('aria-pressed');  // Gradio put its own (unselected) label back
        delete b.dataset.elmoPressed;
      }
    });
  };
  const watch = () => {
    const chat = document.getElementById('elmo-chat');
    if (!chat) return false;
    label(chat);
    new MutationObserver(() => label(chat)).observe(chat, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label'],
    });
    return true;
  };
  const wait = new MutationObserver(() => { if (watch()) wait.disconnect(); });
  const start = () => { if (!watch()) wait.observe(document.body, {childList: true, subtree: true}); };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);

  // the UI language, set by the language switch: <html lang> and the labels above follow it
  window.__elmoSetLang = (lang) => {
    document.documentElement.lang = lang;
    back.textContent = '← ' + say('back_to_answer');
    const chat = document.getElementById('elmo-chat');
    if (chat) label(chat);
    return lang;
  };
})();
