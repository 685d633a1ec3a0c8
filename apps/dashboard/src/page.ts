/**
 * The Bull Board page as this dashboard serves it: nothing loaded from the internet (the dashboard must work on
 * a network without it), nothing inline (so the Content-Security-Policy can forbid inline scripts and styles),
 * and no button for an action the server refuses (route-guard.ts).
 */

/** Served next to the page (relative to its `<base href>`). */
export const PAGE_CSS_PATH = '/dashboard.css';

/**
 * Bull Board's page template (@bull-board/ui `dist/index.ejs`) links Google Fonts and shows an inline-styled
 * "Loading" placeholder. Without the fonts the UI's own stylesheet falls back to system fonts
 * (`"IBM Plex Sans", system-ui, …`); the placeholder is replaced by plain text. Our stylesheet is added.
 */
export function boardPage(html: string): string {
  return (
    html
      // Any stylesheet, font or script from another origin.
      .replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, '')
      .replace(/<script\b[^>]*\bsrc="(?:https?:)?\/\/[^"]*"[^>]*>\s*<\/script>\s*/gi, '')
      // The placeholder inside #root (React replaces it): inline style attributes and a <style> block.
      .replace(/<div id="root">[\s\S]*?<\/style>\s*<\/div>/, '<div id="root">Loading…</div>')
      .replace('</head>', `<link href="${PAGE_CSS_PATH.slice(1)}" rel="stylesheet"></head>`)
  );
}

/**
 * Hides the controls of actions the server refuses (route-guard.ts) on the dead-letter queue, which is not
 * read-only because Retry stays: Bull Board's UI has a single switch (read-only) for all of them. Controls are
 * recognised by their lucide icon: the trash (clean, clean all, empty), and every job action and queue menu
 * entry but Retry (refresh icon). The browser test clicks the hidden trash icons anyway: nothing disappears.
 */
export const PAGE_CSS = `
button:has(svg.lucide-trash-2),
[role="menuitem"]:not(:has(svg.lucide-refresh-cw)),
ul[class*="jobActions"] > li:not(:has(svg.lucide-refresh-cw)) { display: none !important; }
`;
