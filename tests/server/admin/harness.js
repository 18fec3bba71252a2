// Runs the admin pages' shared script and charts in node with a few DOM stand-ins; prints what they compute.
const fs = require("fs"), vm = require("vm");
class El {
  constructor(tag) { this.tag = tag; this.attrs = {}; this.children = []; this.textContent = ""; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  appendChild(c) { this.children.push(c); return c; }
  replaceChildren(...kids) { this.children = kids; }
  all(tag) { let out = []; for (const c of this.children) { if (c.tag === tag) out.push(c); out = out.concat(c.all ? c.all(tag) : []); } return out; }
}
global.window = global;
global.document = {
  getElementById: () => ({ textContent: JSON.stringify({ no_rows: "none" }) }),
  body: { dataset: { lang: "en" } },
  createElementNS: (ns, tag) => new El(tag),
};
global.sessionStorage = { getItem: () => null, setItem: () => {}, removeItem: () => {} };
const dir = process.argv[2];
vm.runInThisContext(fs.readFileSync(dir + "/admin.js", "utf8"));
vm.runInThisContext(fs.readFileSync(dir + "/charts.js", "utf8"));
const out = {};
out.toFen = ["12.5", "0.05", "1299", "1299.00", " 7.1 ", "1.234", "abc", "-1", "12.", ".5", ""].map((x) => FT.toFen(x));
out.fenToText = [1250, 5, 0, 129900].map((x) => FT.fenToText(x));
out.money = [123456789, -150, 0].map((x) => FT.money(x, "CNY"));
const box = new El("div");
FTCharts.bar(box, { labels: ["a", "b", "c"], values: [100, 50, 0], format: String });
out.bars = box.all("rect").map((r) => Number(r.attrs.height));
const donut = new El("div");
FTCharts.donut(donut, { labels: ["x", "y"], values: [3, 1], format: String });
out.slices = donut.all("path").map((p) => p.all("title")[0].textContent);
console.log(JSON.stringify(out));
