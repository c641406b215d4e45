// Lighthouse (mobile preset: a mid-range phone on slow 4G, simulated) on the guest's invitation
// page and the organizer's event list, RUNS times each, with a cold cache every run. Prints one
// JSON line per run on stderr and the medians as JSON on stdout. Run by .ci/bench-web.
// Usage: node lighthouse.js INVITATION_LINK BASE_URL ORGANIZER_EMAIL
// Env: SLSPLAY_LIGHTHOUSE (the folder lighthouse is installed in), RUNS (5).
const path = require('path');

const tools = process.env.SLSPLAY_LIGHTHOUSE;
const puppeteer = require(path.join(tools, 'node_modules', 'puppeteer-core'));
const [invitation, base, organizer] = process.argv.slice(2);
const runs = Number(process.env.RUNS || 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The sign-in lives in the tab's sessionStorage, as the app keeps it: sign in once in the tab
// Lighthouse then measures, and keep its storage (but not its cache) between runs.
async function signIn(page) {
  await page.goto(`${base}/my/events`);
  await page.locator('button::-p-text(Continue with Google)').click();
  await page.waitForSelector('#email');
  await page.type('#email', organizer);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForFunction(() => location.pathname === '/my/events' && document.querySelector('h2'), { timeout: 15000 });
}

(async () => {
  const { default: lighthouse } = await import(path.join(tools, 'node_modules', 'lighthouse', 'core', 'index.js'));
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
    headless: 'new',
  });
  const results = {};
  try {
    for (const [name, url, needsSignIn] of [['invitation', invitation, false], ['my-events', `${base}/my/events`, true]]) {
      const page = await browser.newPage();
      if (needsSignIn) await signIn(page);
      const cdp = await page.createCDPSession();
      const measured = [];
      for (let run = 0; run < runs; run++) {
        await cdp.send('Network.clearBrowserCache');
        const { lhr } = await lighthouse(url, {
          output: 'json',
          logLevel: 'error',
          onlyCategories: ['performance', 'accessibility'],
          disableStorageReset: true,
        }, undefined, page);
        if (lhr.runtimeError) throw new Error(`${name}: ${lhr.runtimeError.message}`);
        const figures = {
          performance: Math.round(lhr.categories.performance.score * 100),
          accessibility: Math.round(lhr.categories.accessibility.score * 100),
          lcp_ms: Math.round(lhr.audits['largest-contentful-paint'].numericValue),
          tbt_ms: Math.round(lhr.audits['total-blocking-time'].numericValue),
          bytes: Math.round(lhr.audits['total-byte-weight'].numericValue),
        };
        const failing = Object.values(lhr.audits)
          .filter((a) => a.score !== null && a.score < 1 && lhr.categories.accessibility.auditRefs.some((r) => r.id === a.id && r.weight > 0))
          .map((a) => a.id);
        console.error(JSON.stringify({ page: name, run, ...figures, accessibility_failing: failing }));
        measured.push(figures);
      }
      results[name] = Object.fromEntries(Object.keys(measured[0]).map((k) => [k, median(measured.map((m) => m[k]))]));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e.stack || e.message || e); process.exit(1); });
