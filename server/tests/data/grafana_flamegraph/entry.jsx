// The page of server/tests/grafana_flamegraph.rs: Grafana's flame graph component
// (@grafana/flamegraph, what Grafana shows profiles with) given a flamedb `format=grafana`
// response. The response is a DataFrameJSON; Grafana turns each frame of a data source
// response into a DataFrame with @grafana/data's `dataFrameFromJSON`
// (`toDataQueryResponse` in @grafana/runtime), and so does `showFlameGraph` here.
//
// Canvas text is not in the DOM: every label the component draws is recorded in
// `window.drawnLabels` (text -> where, in CSS pixels of the canvas), for the test to read
// and to point the mouse at.
import { createRoot } from 'react-dom/client';

// The CommonJS builds: the ES module builds (.mjs) import CommonJS packages' default
// exports (react-custom-scrollbars-2 in @grafana/ui), which a bundler following Node's
// rules for .mjs files resolves to the whole module object instead of the component.
const { createTheme, dataFrameFromJSON } = require('@grafana/data');
const { FlameGraph } = require('@grafana/flamegraph');
const { GlobalStyles, ThemeContext } = require('@grafana/ui');

window.drawnLabels = {};
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
  const scale = window.devicePixelRatio;
  window.drawnLabels[String(text)] = { x: x / scale, y: y / scale };
  return fillText.call(this, text, x, y, ...rest);
};

const theme = createTheme({ colors: { mode: 'light' } });
const getTheme = () => theme;

window.showFlameGraph = (frameJson) => {
  const frame = dataFrameFromJSON(frameJson);
  // Grafana's page styles around it, as in Grafana.
  createRoot(document.getElementById('root')).render(
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <FlameGraph data={frame} getTheme={getTheme} />
    </ThemeContext.Provider>
  );
};
