(current) => {
  const known = ['fi', 'en', 'sv'];
  try {
    const asked = new URLSearchParams(window.location.search).get('lang');
    if (known.includes(asked)) return asked;
    const saved = window.localStorage.getItem('elmo-lang');
    if (known.includes(saved)) return saved;
  } catch (e) {}
  const langs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || 'fi'];
  for (const l of langs) {
    const tag = String(l).toLowerCase();
    if (tag.startsWith('fi')) return 'fi';
    if (tag.startsWith('sv')) return 'sv';
    if (tag.startsWith('en')) return 'en';
    if (tag.endsWith('-fi')) return 'fi';
  }
  return 'en';
}
