// axe-core on the page as it is now: no serious or critical violation of WCAG 2.1 A and AA.
// axe runs through the DevTools protocol, so the page's Content-Security-Policy does not
// stand in its way.
const path = require('path');
const { AxeBuilder } = require(path.join(process.env.SLSPLAY_E2E_TOOLS, 'node_modules', '@axe-core', 'playwright'));

async function checkA11y(page, where) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const said = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    throw new Error(`accessibility of ${where}: ${said.join('; ')}`);
  }
}

module.exports = { checkA11y };
