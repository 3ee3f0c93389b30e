// `npm run build`, dashboard part 1 of 2: lays out dist/presence-service/dashboard/www with the
// page, the stylesheet and uPlot's ESM build and CSS from node_modules (the app's modules follow
// from `tsc -p presence-service/dashboard/tsconfig.json`). Starts from an empty folder, so a
// file removed from the sources is gone from what the service serves.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..', '..', 'dist', 'presence-service', 'dashboard', 'www');
const uplot = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

rmSync(www, { recursive: true, force: true });
mkdirSync(join(www, 'assets', 'vendor'), { recursive: true });
mkdirSync(join(www, 'assets', 'app', 'vendor'), { recursive: true });
cpSync(join(here, 'static', 'index.html'), join(www, 'index.html'));
cpSync(join(here, 'static', 'dashboard.css'), join(www, 'assets', 'dashboard.css'));
cpSync(join(here, 'static', 'favicon.svg'), join(www, 'assets', 'favicon.svg'));
cpSync(join(uplot, 'uPlot.min.css'), join(www, 'assets', 'vendor', 'uPlot.min.css'));
// Beside the app's modules, so that `import uPlot from './vendor/uplot.js'` needs no import map.
cpSync(join(uplot, 'uPlot.esm.js'), join(www, 'assets', 'app', 'vendor', 'uplot.js'));
