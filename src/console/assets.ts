// The console's stylesheet and its one script, served from the console's own path (no CDN), with a content hash in
// their URLs so they can be cached for good. The script only enhances: every page works without it (copy buttons
// fall back to selectable text; confirmations are forms the server checks).
import { createHash } from 'node:crypto';

const CSS = `
:root { --ink: #1d2330; --muted: #4a5262; --line: #d5d9e0; --brand: #1f4fd1; --bg: #f4f5f7; --ok: #1b7a3a; --bad: #b3261e; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--ink); }
a { color: var(--brand); } a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 2; }
header.top { background: #142042; color: #fff; display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; flex-wrap: wrap; }
header.top .brand { font-weight: 700; font-size: 1.1rem; color: #fff; text-decoration: none; }
header.top nav ul { list-style: none; display: flex; gap: 1rem; margin: 0; padding: 0; flex-wrap: wrap; }
header.top nav a { color: #dfe6ff; text-decoration: none; } header.top nav a[aria-current=page] { color: #fff; font-weight: 700; text-decoration: underline; }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; font-size: .9rem; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #dfe6ff; margin: 0; padding: .25rem .75rem; }
main { max-width: 72rem; margin: 1.5rem auto; padding: 0 1.5rem; }
main.narrow { max-width: 32rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
section.card, form.card, div.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f4; font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; }
label { display: block; font-weight: 600; margin-top: .75rem; }
input[type=text], input[type=email], input[type=password], input[type=url], input[type=number], input[type=datetime-local], select, textarea { width: 100%; max-width: 36rem; padding: .5rem; font: inherit; border: 1px solid #8a93a6; border-radius: 4px; }
input[aria-invalid=true], textarea[aria-invalid=true] { border-color: var(--bad); }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: .75rem 0; } legend { font-weight: 600; }
.checks label { font-weight: 400; display: inline-flex; gap: .35rem; margin-right: 1rem; }
.choices label { font-weight: 400; display: flex; gap: .35rem; align-items: baseline; margin-top: .35rem; }
form.filters { margin: 1rem 0; } .filters label { margin-top: 0; } .filters select { width: auto; } .filters button { margin-top: 0; }
button, .button { display: inline-block; margin-top: 1rem; padding: .45rem 1rem; font: inherit; border-radius: 4px; border: 1px solid var(--brand); background: var(--brand); color: #fff; cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: #fff; color: var(--brand); }
button.danger { background: var(--bad); border-color: var(--bad); }
.inline { display: inline; } .inline button { margin-top: 0; }
.row { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; }
.hint { color: var(--muted); font-size: .9rem; margin: .2rem 0 0; }
.field-error { color: var(--bad); font-size: .9rem; margin: .2rem 0 0; }
.notice { background: #e8f4ec; border-left: 4px solid var(--ok); padding: .75rem; margin: 1rem 0; }
.error { background: #fdecea; border-left: 4px solid var(--bad); padding: .75rem; margin: 1rem 0; }
.warning { background: #fff5e0; border-left: 4px solid var(--warn); padding: .75rem; margin: 1rem 0; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); } .badge.bad { color: var(--bad); } .badge.warn { color: var(--warn); } .badge.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; word-break: break-all; }
.secret { background: #fff5e0; border: 1px dashed var(--warn); padding: .75rem; border-radius: 6px; }
.secret code { font-size: 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.pager { margin: 1rem 0; }
figure.chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 1rem 0; }
figure.chart figcaption { font-weight: 600; margin-bottom: .5rem; }
figure.chart svg { width: 100%; height: auto; }
.chart .bar-ok { fill: #2e8b57; } .chart .bar-bad { fill: #c0392b; } .chart .bar-calls { fill: #3b6fe0; } .chart .line { stroke: #142042; fill: none; stroke-width: 2; }
.chart .axis { stroke: #8a93a6; } .chart text { font-size: 11px; fill: #4a5262; }
details > summary { cursor: pointer; }
pre { background: #0f172a; color: #e2e8f0; padding: .75rem; border-radius: 6px; overflow: auto; font-size: .85rem; white-space: pre-wrap; }
.event-choice { margin: .35rem 0; } .event-choice label { display: inline; margin: 0; } .event-choice .hint { margin: 0 0 0 1.6rem; }
figure.chart details { margin-top: .5rem; } progress { width: 100%; max-width: 36rem; height: 1.2rem; }
.actions .button, .actions button { margin-top: 0; }
`;

const JS = `
// Copy buttons: <button data-copy="element-id"> copies that element's text. Without this script the text stays
// visible and selectable.
document.addEventListener('click', function (event) {
  var button = event.target.closest('button[data-copy]');
  if (!button) return;
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var status = document.getElementById(button.getAttribute('data-copy') + '-status');
    if (status) status.textContent = 'Copied.';
  });
});
document.querySelectorAll('button[data-copy]').forEach(function (button) { button.hidden = false; });
`;

function hashed(body: string): { body: string; hash: string } {
  return { body, hash: createHash('sha256').update(body).digest('hex').slice(0, 12) };
}

export const STYLESHEET = hashed(CSS);
export const SCRIPT = hashed(JS);
