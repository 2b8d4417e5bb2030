/**
 * The UI's stylesheet and script, served from memory (no front-end build step). State colours
 * are Airflow's, so users recognise them.
 */
export const STATE_COLORS: Record<string, string> = {
  success: '#008000',
  running: '#00ff00',
  failed: '#ff0000',
  queued: '#808080',
  scheduled: '#d2b48c',
  up_for_retry: '#ffd700',
  up_for_reschedule: '#40e0d0',
  upstream_failed: '#ffa500',
  skipped: '#ff69b4',
  removed: '#d3d3d3',
  restarting: '#ee82ee',
  deferred: '#9370db',
  none: '#ffffff',
};

/** The tab icon: a small upward wind stroke in the accent colour. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#017cee"/><path d="M7 22c5 0 7-3 9-7s4-7 9-7" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/><path d="M19 8h6v6" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

const stateCss = Object.entries(STATE_COLORS)
  .map(([state, color]) => `.state-${state}{background:${color}}`)
  .join('\n');

export const APP_CSS = `
:root{--fg:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--accent:#017cee;--danger:#c0392b}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;align-items:center;gap:18px;background:#fff;border-bottom:1px solid var(--line);padding:8px 20px;position:sticky;top:0;z-index:5}
header.top .brand{font-weight:700;font-size:17px;color:var(--fg)}
header.top nav{display:flex;gap:14px;flex:1;flex-wrap:wrap}
header.top nav details{position:relative}header.top nav summary{cursor:pointer;color:var(--accent);list-style:none}
header.top nav details div{position:absolute;background:#fff;border:1px solid var(--line);padding:6px 0;min-width:160px;box-shadow:0 4px 10px rgba(0,0,0,.08)}
header.top nav details div a{display:block;padding:4px 12px}
header.top .user{color:var(--muted);display:flex;gap:10px;align-items:center}
main{padding:16px 20px;max-width:1500px;margin:0 auto}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:17px;margin:18px 0 8px}
.banner{padding:10px 14px;border-radius:4px;margin:0 0 12px;border:1px solid}
.banner.warn{background:#fff8e1;border-color:#f0c36d;color:#7a5a00}
.banner.error{background:#fdecea;border-color:#f5a9a3;color:#8a1f11}
.banner.info{background:#e8f4fd;border-color:#a6d0f5;color:#0b4f82}
.banner pre{white-space:pre-wrap;margin:6px 0 0;font-size:12px}
table.list{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line)}
table.list th,table.list td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
table.list th{background:#f0f4f8;font-weight:600;font-size:13px;color:#334e68}
table.list tr:hover td{background:#fafcff}
.tag{display:inline-block;background:#e4ecf5;border-radius:10px;padding:0 8px;margin:2px 3px 0 0;font-size:12px;color:#334e68}
.tabs{display:flex;gap:4px;margin:0 0 10px;border-bottom:1px solid var(--line);flex-wrap:wrap}
.tabs a{padding:6px 12px;border:1px solid transparent;border-bottom:none;border-radius:4px 4px 0 0;color:var(--muted)}
.tabs a.active{background:#fff;border-color:var(--line);color:var(--fg);font-weight:600}
.toolbar{display:flex;gap:10px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
input[type=text],input[type=password],input[type=number],input[type=search],select,textarea{font:inherit;padding:5px 8px;border:1px solid #bcccdc;border-radius:4px;background:#fff}
textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;width:100%}
button,.button{font:inherit;padding:5px 12px;border-radius:4px;border:1px solid #9fb3c8;background:#fff;cursor:pointer;color:var(--fg);display:inline-block}
button.primary,.button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{border-color:var(--danger);color:var(--danger)}
button.link{border:none;background:none;color:var(--accent);padding:0}
form.inline{display:inline}
.counts{display:flex;gap:3px;flex-wrap:wrap}
.count{display:inline-flex;min-width:22px;height:22px;border-radius:11px;align-items:center;justify-content:center;font-size:11px;padding:0 5px;border:2px solid #bbb;background:#fff;color:#222}
.muted{color:var(--muted)}
.switch{appearance:none;width:34px;height:18px;border-radius:9px;background:#bcccdc;position:relative;cursor:pointer;vertical-align:middle;border:none}
.switch::after{content:"";position:absolute;top:2px;left:2px;width:14px;height:14px;border-radius:50%;background:#fff;transition:left .15s}
.switch:checked{background:#017cee}.switch:checked::after{left:18px}
.switch:disabled{opacity:.4;cursor:not-allowed;filter:grayscale(1)}
.paused-next{font-style:italic}
td.links a{margin-right:6px;font-size:13px}
th a.sort{color:inherit}
.pagination{display:flex;gap:6px;margin:10px 0;align-items:center}
.grid-wrap{overflow:auto;background:#fff;border:1px solid var(--line);padding:8px}
table.grid{border-collapse:separate;border-spacing:3px}
table.grid th.task{text-align:left;font-weight:normal;white-space:nowrap;padding-right:10px;font-size:13px}
table.grid th.task.group{font-weight:600}
table.grid td{padding:0}
table.grid .cell{display:block;width:16px;height:16px;border-radius:3px;border:1px solid rgba(0,0,0,.15)}
table.grid .runbar{display:block;width:16px;min-height:4px;border-radius:3px;margin:0 auto}
table.grid tr.run-bars td{vertical-align:bottom;height:64px}
table.grid tr.run-dates td{vertical-align:bottom;height:74px;position:relative}
table.grid .runlabel{display:block;writing-mode:vertical-rl;transform:rotate(180deg);font-size:11px;color:var(--muted);white-space:nowrap;margin:0 auto}
table.grid .group-cell{border-radius:8px;opacity:.85}
table.grid tr.collapsed-child{display:none}
button.group-toggle{font-weight:600;color:var(--fg)}button.group-toggle .caret{display:inline-block;width:12px;transition:transform .1s}
button.group-toggle[aria-expanded=false] .caret{transform:rotate(-90deg)}
.durbar{display:block;height:10px;border-radius:2px;min-width:2px}
table.durations td{padding:3px 8px;font-size:13px}
table.grid .sel{outline:2px solid #102a43;outline-offset:1px}
.legend{display:flex;gap:10px;flex-wrap:wrap;font-size:12px;margin:8px 0}
.legend span i{display:inline-block;width:12px;height:12px;border-radius:2px;border:1px solid rgba(0,0,0,.2);vertical-align:-2px;margin-right:3px}
.panel{background:#fff;border:1px solid var(--line);padding:12px 14px;margin-top:12px;border-radius:4px}
pre.code,pre.log{background:#0f1720;color:#e5ecf2;padding:12px;overflow:auto;font-size:12.5px;line-height:1.5;border-radius:4px;max-height:600px;white-space:pre-wrap;word-break:break-word}
pre.code{background:#fbfcfd;color:#102a43;border:1px solid var(--line)}
dl.details{display:grid;grid-template-columns:220px 1fr;gap:4px 12px;background:#fff;border:1px solid var(--line);padding:12px}
dl.details dt{color:var(--muted)}dl.details dd{margin:0;word-break:break-word}
.split{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
@media (max-width:1100px){.split{grid-template-columns:1fr}}
.login{max-width:360px;margin:80px auto;background:#fff;border:1px solid var(--line);padding:24px;border-radius:6px}
.login label{display:block;margin:10px 0 4px}.login input{width:100%}
.error-page{max-width:640px;margin:60px auto}
.graph-viewport{background:#fff;border:1px solid var(--line);overflow:hidden;cursor:grab;touch-action:none;height:420px}
.graph-viewport.dragging{cursor:grabbing}
svg.graph{width:100%;height:100%;display:block;user-select:none}
svg.graph text{font-size:12px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg.graph text.sub{font-size:10px;fill:#627d98}
svg.graph .node rect{rx:4}
svg.graph .node:hover rect:first-child{stroke:#102a43;stroke-width:2}
svg.graph .collapsed-group rect:first-child{stroke-dasharray:4 3}
svg.graph .group>rect{fill:rgba(1,124,238,.04);stroke:#9fb3c8;stroke-dasharray:5 3;rx:6}
svg.graph .group-label text{font-size:11px;font-weight:600;fill:#334e68}
svg.graph .edge{stroke:#9fb3c8;stroke-width:1.4;fill:none;marker-end:url(#arrow)}
.graph-zoom button{min-width:34px}
.field-error{color:var(--danger);font-size:13px;margin-top:3px}
[aria-invalid=true]{border-color:var(--danger)!important;outline:1px solid var(--danger)}
textarea.json-editor{tab-size:2;min-height:60px}
.json-status{font-size:12px;margin-top:2px}.json-status.bad{color:var(--danger)}
dl.details.params dd{margin-bottom:8px}
#trigger-form details{margin:12px 0}#trigger-form summary{cursor:pointer;font-weight:600}
.flash{padding:8px 12px;background:#e3f9e5;border:1px solid #91d3a0;border-radius:4px;margin-bottom:12px}
${stateCss}
`;

/**
 * Live updates: every element with data-live="<id>" is refreshed from a fresh copy of the same
 * page every few seconds (no full reload, form fields elsewhere keep their values). The log
 * viewer follows a running task by asking only for bytes appended since the last poll.
 */
export const APP_JS = `
(function(){
  const csrf = document.querySelector('meta[name=csrf-token]')?.content || '';
  async function refreshLive(){
    const regions = document.querySelectorAll('[data-live]');
    if (!regions.length || document.hidden) return;
    try {
      const res = await fetch(location.href, {headers:{'X-Updraft-Partial':'1'}, credentials:'same-origin'});
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      regions.forEach(function(el){
        const fresh = doc.querySelector('[data-live="' + el.dataset.live + '"]');
        if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
      });
      document.querySelectorAll('[data-live-optional]').forEach(function(el){
        const fresh = doc.querySelector('[data-live-optional="' + el.dataset.liveOptional + '"]');
        el.innerHTML = fresh ? fresh.innerHTML : '';
      });
      document.dispatchEvent(new Event('updraft:refreshed'));
    } catch (e) { /* next poll */ }
  }
  setInterval(refreshLive, Number(document.body.dataset.refreshMs || 3000));

  document.addEventListener('change', function(ev){
    const t = ev.target;
    if (t.matches('input.switch[data-autosubmit]')) t.form.submit();
  });
  document.addEventListener('submit', function(ev){
    const msg = ev.target.dataset.confirm;
    if (msg && !confirm(msg)) ev.preventDefault();
  });

  // Task groups in the grid (and graph) collapse; the choice survives live refreshes and reloads.
  const groupKey = 'updraft-collapsed:' + location.pathname.split('/').slice(0, 3).join('/');
  function collapsedGroups(){
    try { return new Set(JSON.parse(sessionStorage.getItem(groupKey) || '[]')); } catch (e) { return new Set(); }
  }
  function applyCollapsed(){
    const collapsed = collapsedGroups();
    document.querySelectorAll('table.grid tr[data-ancestors]').forEach(function(tr){
      const hidden = (tr.dataset.ancestors || '').split(' ').some(function(g){ return g && collapsed.has(g); });
      tr.classList.toggle('collapsed-child', hidden);
    });
    document.querySelectorAll('button.group-toggle').forEach(function(b){
      b.setAttribute('aria-expanded', collapsed.has(b.dataset.group) ? 'false' : 'true');
    });
    document.dispatchEvent(new CustomEvent('updraft:groups', {detail: collapsed}));
  }
  document.addEventListener('click', function(ev){
    const button = ev.target.closest && ev.target.closest('button.group-toggle');
    if (!button) return;
    const collapsed = collapsedGroups();
    if (collapsed.has(button.dataset.group)) collapsed.delete(button.dataset.group);
    else collapsed.add(button.dataset.group);
    sessionStorage.setItem(groupKey, JSON.stringify([...collapsed]));
    applyCollapsed();
  });
  document.addEventListener('updraft:refreshed', applyCollapsed);
  applyCollapsed();

  document.addEventListener('change', function(ev){
    if (ev.target.matches('select[data-autosubmit-select]')) ev.target.form.submit();
  });

  // Graph: fit to the viewport, drag to pan, wheel or buttons to zoom; kept across live refreshes.
  const viewport = document.querySelector('.graph-viewport');
  if (viewport) {
    let view = null;
    let drag = null;
    let moved = false;
    const graph = function(){ return viewport.querySelector('svg.graph'); };
    const size = function(){ const g = graph(); return {w: Number(g.dataset.width) || 1, h: Number(g.dataset.height) || 1}; };
    function fit(){
      const f = size();
      const vw = viewport.clientWidth;
      viewport.style.height = Math.round(Math.min(window.innerHeight * 0.75, Math.max(240, f.h * Math.min(1, vw / f.w) + 8))) + 'px';
      const vh = viewport.clientHeight;
      const scale = Math.min(1, vw / f.w, vh / f.h);
      const w = vw / scale, h = vh / scale;
      view = {x: (f.w - w) / 2, y: 0, w: w, h: h};
      apply();
    }
    function apply(){
      const g = graph();
      if (g && view) g.setAttribute('viewBox', [view.x, view.y, view.w, view.h].map(function(n){ return n.toFixed(1); }).join(' '));
    }
    function zoom(factor, px, py){
      const vw = viewport.clientWidth, vh = viewport.clientHeight;
      const fx = px === undefined ? 0.5 : px / vw, fy = py === undefined ? 0.5 : py / vh;
      const cx = view.x + fx * view.w, cy = view.y + fy * view.h;
      view.w *= factor; view.h *= factor;
      view.x = cx - fx * view.w; view.y = cy - fy * view.h;
      apply();
    }
    viewport.addEventListener('wheel', function(ev){
      ev.preventDefault();
      const r = viewport.getBoundingClientRect();
      zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    viewport.addEventListener('pointerdown', function(ev){ drag = {x: ev.clientX, y: ev.clientY}; moved = false; });
    window.addEventListener('pointermove', function(ev){
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      moved = true;
      viewport.classList.add('dragging');
      view.x -= dx * view.w / viewport.clientWidth; view.y -= dy * view.h / viewport.clientHeight;
      drag = {x: ev.clientX, y: ev.clientY};
      apply();
    });
    window.addEventListener('pointerup', function(){ drag = null; viewport.classList.remove('dragging'); });
    viewport.addEventListener('click', function(ev){ if (moved) { ev.preventDefault(); moved = false; } }, true);
    document.addEventListener('click', function(ev){
      const b = ev.target.closest && ev.target.closest('button[data-graph]');
      if (!b) return;
      if (b.dataset.graph === 'fit') fit(); else zoom(b.dataset.graph === 'in' ? 1 / 1.3 : 1.3);
    });
    document.addEventListener('updraft:refreshed', apply);
    window.addEventListener('resize', fit);
    fit();
  }

  // JSON editors: say at once whether the text parses.
  document.querySelectorAll('textarea.json-editor').forEach(function(area){
    const status = document.createElement('div');
    status.className = 'json-status muted';
    area.insertAdjacentElement('afterend', status);
    function check(){
      if (!area.value.trim()) { status.textContent = ''; status.classList.remove('bad'); return; }
      try { JSON.parse(area.value); status.textContent = 'Valid JSON'; status.classList.remove('bad'); }
      catch (e) { status.textContent = 'Invalid JSON: ' + e.message; status.classList.add('bad'); }
    }
    area.addEventListener('input', check);
  });

  const log = document.querySelector('pre.log[data-log-url]');
  if (log) {
    let token = '0';
    let finished = false;
    async function poll(){
      try {
        const res = await fetch(log.dataset.logUrl + '&token=' + token, {credentials:'same-origin'});
        if (res.ok) {
          const body = await res.json();
          if (body.content) {
            const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.textContent += body.content;
            if (atBottom) log.scrollTop = log.scrollHeight;
          }
          token = body.continuation_token;
          finished = body.finished;
          if (!log.textContent && finished) log.textContent = '(no log for this try)';
        }
      } catch (e) {}
      if (!finished) setTimeout(poll, 1500);
    }
    poll();
  }
})();
`;
