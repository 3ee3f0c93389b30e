// uPlot's ESM build is copied beside the app's modules at build time (build-static.mjs), so the
// browser imports it by a relative path; its types come from the npm package.
import uPlot from 'uplot';

export default uPlot;
