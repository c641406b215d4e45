// The organizer's flow in a real browser (Debian's chromium driven by playwright-core), at a
// phone's and a desktop's width: sign in through the development provider, see the empty list,
// create an event (a refused field is shown next to it before anything is sent), upload a cover
// photo over a throttled connection (the progress bar moves), publish it,
// invite with one invalid address shown in the preview, revoke a pending invitation.
// Run by lambdas/local/tests/it/web_app.rs; screenshots go to ARTIFACTS.
// Usage: node organizer.js BASE_URL ARTIFACTS
const path = require('path');
const { chromium } = require(path.join(process.env.SLSPLAY_E2E_TOOLS, 'node_modules', 'playwright-core'));

const zlib = require('zlib');
const { checkA11y } = require('./a11y');

const [base, artifacts] = process.argv.slice(2);
const fail = (why) => { throw new Error(why); };

// A real PNG of noise (it does not compress), big enough that a throttled upload takes a while.
function noisePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, tail]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let i = 0; i < rows.length; i++) rows[i] = i % (width * 3 + 1) === 0 ? 0 : Math.floor(Math.random() * 256);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
const cover = { name: 'cover.png', mimeType: 'image/png', buffer: noisePng(480, 270) };

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

      // A file the rules refuse is named before anything is sent.
      await page.getByLabel('Choose a cover photo').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
      await page.getByText(/^notes.txt: must be one of/).waitFor();
      // The photo goes up over a slow connection: the bar shows how far it got.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 128 * 1024 });
      await page.evaluate(() => {
        window.progressSeen = [];
        const watch = setInterval(() => {
          const bar = document.querySelector('progress');
          if (bar) window.progressSeen.push(Number(bar.value));
        }, 50);
        window.stopWatching = () => clearInterval(watch);
      });
      await page.getByLabel('Choose a cover photo').setInputFiles(cover);
      await page.getByRole('progressbar', { name: 'Uploading the cover photo' }).waitFor();
      if (name === '360x800') await shot('uploading');
      await page.getByText('Uploaded. Guests see it now.').waitFor({ timeout: 30000 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      const seen = await page.evaluate(() => { window.stopWatching(); return window.progressSeen; });
      if (!seen.some((v) => v > 0 && v < 100)) fail(`the progress bar never moved: ${JSON.stringify(seen)}`);
      // The photo now comes from the blob store, through the read model.
      await page.reload();
      const img = page.getByRole('img', { name: 'The cover photo' });
      await img.waitFor();
      const served = await img.evaluate((el) => el.complete && el.naturalWidth === 480 && el.currentSrc.includes('/blobs/'));
      if (!served) fail(`the cover photo is not served: ${await img.getAttribute('src')}`);
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
