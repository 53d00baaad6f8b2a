// Builds ../vendor/plotly/plotly-processlens.min.js (and its .br and .gz copies) from
// plotly-entry.js with esbuild,
// the way plotly.js builds its own dist files (IIFE, global `Plotly`), then refuses the result
// if it contains `new Function` or `eval(`: the pages' Content-Security-Policy has no
// 'unsafe-eval'.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "..", "vendor", "plotly", "plotly-processlens.min.js");
const version = JSON.parse(
  readFileSync(join(here, "node_modules", "plotly.js", "package.json"), "utf8"),
).version;

await build({
  entryPoints: [join(here, "plotly-entry.js")],
  outfile,
  format: "iife",
  globalName: "Plotly",
  bundle: true,
  minify: true,
  legalComments: "eof",
  banner: { js: `/* plotly.js ${version} (MIT), custom bundle: bar, heatmap, scatterpolar, scatter */` },
  define: { global: "window", "define.amd": "false" },
  // the one CSS file plotly.js imports is for map traces, which this bundle leaves out
  loader: { ".css": "empty" },
  target: "es2016",
  logLevel: "info",
});

const bundle = readFileSync(outfile, "utf8");
const forbidden = [/new Function\s*\(/, /\bFunction\s*\(\s*["'`]/, /\beval\s*\(/];
const found = forbidden.filter((pattern) => pattern.test(bundle));
if (found.length > 0) {
  console.error(`the bundle needs eval (${found.join(", ")}): the CSP would block it`);
  process.exit(1);
}

// pre-compressed copies beside the bundle: the app sends these rather than compressing 1 MB
// with brotli's best (slow) setting on a first request (app/static_assets.py)
const raw = readFileSync(outfile);
const brotli = brotliCompressSync(raw, {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 11,
    [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
  },
});
const gzip = gzipSync(raw, { level: 9 });
writeFileSync(`${outfile}.br`, brotli);
writeFileSync(`${outfile}.gz`, gzip);
console.log(
  `${outfile}: ${raw.length} bytes (brotli ${brotli.length}, gzip ${gzip.length}), no eval`,
);
