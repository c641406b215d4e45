// The organizer's flow in a real browser (Debian's chromium driven by playwright-core), at a
// phone's and a desktop's width: sign in through the development provider, see the empty list,
// create an event (a refused field is shown next to it before anything is sent), publish it,
// invite with one invalid address shown in the preview, revoke a pending invitation.
// Run by lambdas/local/tests/it/web_app.rs; screenshots go to ARTIFACTS.
// Usage: node organizer.js BASE_URL ARTIFACTS
const path = require('path');
const { chromium } = require(path.join(process.env.SLSPLAY_E2E_TOOLS, 'node_modules', 'playwright-core'));

const { checkA11y } = require('./a11y');

const [base, artifacts] = process.argv.slice(2);
const fail = (why) => { throw new Error(why); };

// A date 30 days ahead, as a date input takes it.
const inAMonth = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10);

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    for (const [name, viewport] of [['360x800', { width: 360, height: 800 }], ['1280x800', { width: 1280, height: 800 }]]) {
      // axe needs a page of its own context.
      const context = await browser.newContext({ viewport, timezoneId: 'Europe/Madrid' });
      const page = await context.newPage();
      const shot = async (step) => {
        await page.screenshot({ path: path.join(artifacts, `organizer-${step}-${name}.png`), fullPage: true });
        await checkA11y(page, `${step} at ${name}`);
      };
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));

      // A guarded page asks to sign in, and comes back to itself.
      await page.goto(`${base}/my/events`);
      await page.getByRole('heading', { name: 'Sign in to organize your events' }).waitFor();
      await shot('sign-in');
      await page.getByRole('button', { name: 'Continue with Google' }).click();
      await page.getByLabel('Email').fill(`olivia.${name}@example.com`);
      await page.getByLabel('Name').fill('Olivia');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/my/events`);
      await page.getByRole('heading', { name: 'No events yet' }).waitFor();
      if (await page.evaluate(() => localStorage.length) !== 0) fail('the sign-in left something in localStorage');
      await shot('empty');

      await page.getByRole('link', { name: 'New event' }).click();
      await page.getByLabel('Title').fill('Founders evening');
      await page.getByLabel('Description').fill('Drinks and stories, online.');
      await page.getByLabel('Date').fill(inAMonth);
      await page.getByLabel('Time', { exact: true }).fill('19:30');
      await page.getByLabel('Time zone').selectOption('America/New_York');
      await page.getByText(/^Your time: /).waitFor();
      await page.getByLabel('Seats').fill('40');
      await page.getByLabel('Meeting link').fill('http://meet.example/founders');
      let posted = 0;
      page.on('request', (r) => { if (r.url().endsWith('/graphql') && (r.postData() || '').includes('createEvent')) posted += 1; });
      await page.getByRole('button', { name: 'Save draft' }).click();
      await page.getByText('must start with https://').waitFor();
      if (posted !== 0) fail('a form the rules refuse was sent');
      await shot('form-refused');
      await page.getByLabel('Meeting link').fill('https://meet.example/founders');
      await page.getByRole('button', { name: 'Save draft' }).click();
      await page.waitForURL(/\/my\/events\/[^/]+$/);
      await page.getByRole('heading', { name: 'Founders evening' }).waitFor();
      await page.getByText('Draft', { exact: true }).waitFor();
      await page.getByText(/7:30\sPM EST|7:30\sPM GMT-5/).first().waitFor();

      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByText('Published', { exact: true }).waitFor({ timeout: 15000 });

      await page.getByLabel('Email addresses').fill('Ann <ann@example.com>, not-an-email\nbob@example.com');
      await page.getByText('2 to invite').waitFor();
      await page.getByText('1 not valid, will not be sent:').waitFor();
      await page.getByText('not-an-email', { exact: true }).waitFor();
      await shot('invite-preview');
      await page.getByRole('button', { name: 'Send 2 invitations' }).click();
      await page.getByText('Invited 2.', { exact: false }).waitFor({ timeout: 15000 });
      await page.getByRole('cell', { name: 'ann@example.com', exact: true }).waitFor();
      await page.getByRole('cell', { name: 'bob@example.com', exact: true }).waitFor();
      await page.getByLabel('Email addresses').fill('ann@example.com');
      await page.getByText('Already invited: ann@example.com').waitFor();
      if (name === '360x800') {
        // The counts refresh every 10 s; what is being typed survives that.
        await page.waitForTimeout(11000);
        if (await page.getByLabel('Email addresses').inputValue() !== 'ann@example.com') fail('a refresh wiped the typed addresses');
      }
      await page.getByLabel('Email addresses').fill('');

      await page.getByRole('button', { name: 'Revoke the invitation of bob@example.com' }).click();
      await page.getByRole('row', { name: /bob@example.com\s+Revoked/ }).waitFor({ timeout: 15000 });
      await shot('guests');

      await page.goto(`${base}/my/events`);
      await page.getByRole('heading', { name: /^Upcoming/ }).waitFor();
      await page.getByText(/^0 of 40 seats taken · [12] invited$/).waitFor();
      await shot('list');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      if (errors.length) fail(`errors on the page: ${errors.join('; ')}`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
