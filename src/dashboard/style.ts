/**
 * The page's only stylesheet, inlined: the host may have no Internet, so nothing is fetched from elsewhere.
 * One column on a phone, wider grids on a desk; light and dark follow the system.
 */
export const PAGE_CSS = `
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d2330;--muted:#667085;--line:#e3e6ea;--ok:#2f8a43;--warn:#b7791f;--bad:#c53030;--grey:#8a94a6}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2129;--fg:#e6e9ee;--muted:#98a2b3;--line:#2c323c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem .8rem;padding:.8rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
h1{font-size:1.2rem;margin:0}
h2{font-size:1rem;margin:0 0 .6rem}
main{padding:.8rem;display:grid;gap:.8rem;max-width:1200px;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem;min-width:0}
footer{padding:1rem;text-align:center;color:var(--muted);font-size:.85rem}
a{color:inherit}
.muted{color:var(--muted)}
.note{font-size:.8rem;margin:.4rem 0 0}
.pill{padding:.1rem .6rem;border-radius:999px;font-weight:600;font-size:.85rem;color:#fff}
.pill.ok{background:var(--ok)}.pill.bad{background:var(--bad)}
dl.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.5rem 1rem;margin:0}
dt{font-size:.8rem;color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
dd.ok{color:var(--ok);font-weight:600}dd.bad,td.bad{color:var(--bad);font-weight:600}
.problem{margin:.6rem 0 0;padding:.4rem .6rem;border-left:4px solid var(--bad);background:rgba(197,48,48,.08)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;white-space:nowrap;font-size:.9rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left}
th{font-size:.78rem;color:var(--muted);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
/* Upstream model names are long: they wrap, so the numbers stay on screen without scrolling. */
td[data-field=model]{white-space:normal;overflow-wrap:anywhere;min-width:9rem}
td.low{color:var(--warn);font-weight:600}td.pending{color:var(--bad);font-weight:600}
.bar{display:inline-block;width:48px;height:8px;margin-right:.4rem;background:var(--line);border-radius:4px;overflow:hidden;vertical-align:middle}
.bar span{display:block;height:100%;background:var(--ok)}
.bar .warning{background:var(--warn)}.bar .exhausted{background:var(--bad)}.bar .unresolved{background:var(--bad)}
.state{padding:0 .45rem;border-radius:4px;font-size:.8rem;font-weight:600;color:#fff;background:var(--ok)}
.state.warning{background:var(--warn)}.state.exhausted{background:var(--bad)}.state.unresolved{background:var(--bad)}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.82rem;color:var(--muted);margin-bottom:.5rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px;border-radius:2px}
.legend i.dash{height:0;border-top:2px dashed var(--bad);border-radius:0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.8rem}
figure{margin:0;min-width:0}
figcaption{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.2rem .6rem;font-size:.88rem;margin-bottom:.2rem;overflow-wrap:anywhere}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font-size:10px;fill:var(--muted);text-anchor:middle}
svg.chart text.val{fill:var(--fg)}
svg.chart .axis{stroke:var(--line)}
svg.chart .budget{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:5 4}
svg.chart text.budget-label{fill:var(--bad);text-anchor:start;paint-order:stroke;stroke:var(--card);stroke-width:3px}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:.8rem}
@media (max-width:640px){
table.cards thead{display:none}
table.cards,table.cards tbody{display:block}
table.cards tr{display:grid;grid-template-columns:1fr 1fr;gap:.15rem .8rem;padding:.5rem 0;border-bottom:1px solid var(--line)}
table.cards td{display:block;border:0;padding:0;text-align:left;white-space:normal;overflow-wrap:anywhere}
table.cards td:first-child{grid-column:1/-1;font-weight:600}
table.cards td::before{content:attr(data-label);display:block;font-size:.72rem;font-weight:400;color:var(--muted)}
table.cards td:first-child::before{content:none}
}
ul.log{list-style:none;margin:0;padding:0;font-size:.88rem}
ul.log li{padding:.35rem 0;border-bottom:1px solid var(--line)}
time{font-variant-numeric:tabular-nums;color:var(--muted);margin-right:.3rem}
.sev{padding:0 .4rem;border-radius:4px;font-size:.78rem;font-weight:600;color:#fff;background:var(--grey)}
.sev.warning{background:var(--warn)}.sev.critical{background:var(--bad)}
`;
