// The guest's flow in a real browser (Debian's chromium driven by playwright-core), at a phone's
// and a desktop's width: open the emailed link, accept, see the meeting link; decline, and it is
// gone. Run by lambdas/local/tests/it/web_app.rs; screenshots go to ARTIFACTS.
// Usage: node guest.js LINK ARTIFACTS
const path = require('path');
const { chromium } = require(path.join(process.env.SLSPLAY_E2E_TOOLS, 'node_modules', 'playwright-core'));

const { checkA11y } = require('./a11y');

const [link, artifacts] = process.argv.slice(2);
const fail = (why) => { throw new Error(why); };

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    for (const [name, viewport] of [['360x800', { width: 360, height: 800 }], ['1280x800', { width: 1280, height: 800 }]]) {
      // axe needs a page of its own context.
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const leaks = [];
      page.on('request', (r) => {
        const token = new URL(link).hash.split('.').pop();
        if (r.url().includes(token) || (r.headers()['referer'] || '').includes(token)) leaks.push(r.url());
      });
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(link);
      await page.getByRole('heading', { name: 'Founders evening' }).waitFor();
      await page.getByText('Your time:').waitFor();
      // The test's event starts in 30 days.
      await page.getByText(/^Starts in (29|30) days(, \d+ hours?)?$/).waitFor();
      await page.screenshot({ path: path.join(artifacts, `invitation-${name}.png`), fullPage: true });
      await checkA11y(page, `the invitation at ${name}`);

      await page.getByRole('button', { name: 'Accept' }).click();
      await page.getByText('You are attending.').waitFor({ timeout: 15000 });
      const join = page.getByRole('link', { name: 'https://meet.example/founders' });
      await join.waitFor();
      await page.screenshot({ path: path.join(artifacts, `invitation-accepted-${name}.png`), fullPage: true });
      await checkA11y(page, `the accepted invitation at ${name}`);

      await page.getByRole('button', { name: 'Decline' }).click();
      await page.getByText('You declined.').waitFor({ timeout: 15000 });
      if (await join.count() !== 0) fail('the meeting link is still shown after declining');

      if (leaks.length) fail(`the token left the browser outside its header: ${leaks.join(', ')}`);
      if (errors.length) fail(`errors on the page: ${errors.join('; ')}`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
