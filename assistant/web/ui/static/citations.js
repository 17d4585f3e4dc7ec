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
    root.querySelectorAll('a[href^="#elmo-cite-"]:not(.elmo-card-link)').forEach((a) => {
      const n = (a.getAttribute('href').match(/-(\d+)$/) || [])[1];
      const want = say('cite_label', n);
      if (n && a.getAttribute('aria-label') !== want) a.setAttribute('aria-label', want);
    });
    // the source cards' list is named by its label (Gradio's sanitizer drops the server's aria-labelledby)
    root.querySelectorAll('.elmo-cards > .elmo-card-list:not([aria-labelledby])').forEach((list) => {
      const name = list.previousElementSibling;
      if (name && name.id) list.setAttribute('aria-labelledby', name.id);
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

  // The preview of an [n] marker on hover, keyboard focus or a long touch: the title and cited sentence,
  // copied as text (never as HTML) from the source card the server rendered under the same answer.
  const preview = document.createElement('div');
  preview.id = 'elmo-preview';
  preview.setAttribute('role', 'tooltip');
  preview.hidden = true;
  const attachPreview = () => document.body.append(preview);
  if (document.body) attachPreview(); else document.addEventListener('DOMContentLoaded', attachPreview);
  let previewed = null, hideTimer = 0, pressTimer = 0, pressed = false;
  const markerOf = (el) => (el instanceof Element
    ? el.closest('#elmo-chat a[href^="#elmo-cite-"]:not(.elmo-card-link)') : null);
  const cardOf = (a) => {
    const message = a.closest('[data-testid="bot"]') || a.closest('.message') || document;
    const href = a.getAttribute('href');
    const link = [...message.querySelectorAll('a.elmo-card-link')].find((l) => l.getAttribute('href') === href);
    return link ? link.closest('.elmo-card') : null;
  };
  const hidePreview = () => {
    clearTimeout(hideTimer);
    preview.hidden = true;
    if (previewed) previewed.removeAttribute('aria-describedby');
    previewed = null;
  };
  const hideSoon = () => { clearTimeout(hideTimer); hideTimer = setTimeout(hidePreview, 250); };
  const showPreview = (a) => {
    clearTimeout(hideTimer);
    const card = cardOf(a);
    if (!card) return;
    const title = document.createElement('strong');
    title.textContent = card.querySelector('.elmo-card-link')?.textContent || '';
    const quote = document.createElement('span');
    quote.textContent = card.querySelector('.elmo-card-quote')?.textContent || '';
    preview.replaceChildren(title, quote);
    preview.hidden = false;
    if (previewed && previewed !== a) previewed.removeAttribute('aria-describedby');
    previewed = a;
    a.setAttribute('aria-describedby', 'elmo-preview');
    const r = a.getBoundingClientRect();
    const w = preview.offsetWidth, h = preview.offsetHeight;
    const left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8));
    const below = r.bottom + 6 + h <= window.innerHeight;
    preview.style.left = left + 'px';
    preview.style.top = (below ? r.bottom + 6 : Math.max(8, r.top - h - 6)) + 'px';
  };
  document.addEventListener('mouseover', (ev) => {
    const a = markerOf(ev.target);
    if (a) showPreview(a);
    else if (ev.target instanceof Element && ev.target.closest('#elmo-preview')) clearTimeout(hideTimer);
    else if (previewed) hideSoon();
  });
  document.addEventListener('focusin', (ev) => {
    const a = markerOf(ev.target);
    if (a) showPreview(a); else if (previewed) hidePreview();
  });
  document.addEventListener('scroll', () => { if (previewed) hidePreview(); }, true);
  // touch: a long press previews (and the click that ends it does not open the passage); a tap opens it
  document.addEventListener('pointerdown', (ev) => {
    const a = ev.pointerType === 'touch' ? markerOf(ev.target) : null;
    pressed = false;
    clearTimeout(pressTimer);
    if (a) pressTimer = setTimeout(() => { pressed = true; showPreview(a); }, 450);
  });
  ['pointerup', 'pointercancel'].forEach((type) => document.addEventListener(type, () => clearTimeout(pressTimer)));
  document.addEventListener('contextmenu', (ev) => { if (pressed && markerOf(ev.target)) ev.preventDefault(); });
  window.addEventListener('click', (ev) => {
    if (pressed && markerOf(ev.target)) {
      ev.preventDefault();
      ev.stopPropagation();
    } else if (previewed) {
      hidePreview();
    }
    pressed = false;
  }, true);
  window.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && previewed) {
      hidePreview();
      ev.stopPropagation();  // this Escape closes the preview only, not the open passage
    }
  }, true);

  // the UI language, set by the language switch: <html lang> and the labels above follow it
  window.__elmoSetLang = (lang) => {
    document.documentElement.lang = lang;
    back.textContent = '← ' + say('back_to_answer');
    const chat = document.getElementById('elmo-chat');
    if (chat) label(chat);
    return lang;
  };
})();
