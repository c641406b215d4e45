// The guests' flow in a real browser (Debian's chromium driven by playwright-core), at a phone's
// and a desktop's width, on an event with one seat: Ann opens her emailed link (the event's
// preview page), accepts and sees the meeting link; Bob declines and does not see it; Cleo
// accepts, is first on the waitlist and sees no link; Ann changes her mind and declines, and
// Cleo is promoted and sees the link. Each adds the event to a calendar (.ics). Bob then signs
// in with the address he was invited at: his invitation opens without the link, still declined,
// and is listed under Invitations.
// Run by lambdas/local/tests/it/web_app.rs; screenshots go to ARTIFACTS.
// Dana, invited to a paid event, accepts, pays at the development checkout and comes back
// attending.
// Usage: node guest.js LINKS_JSON ARTIFACTS, LINKS_JSON = {"360x800": [ann, bob, cleo, dana], ...},
// each guest invited as NAME.VIEWPORT@example.com.
const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(process.env.SLSPLAY_E2E_TOOLS, 'node_modules', 'playwright-core'));

const { checkA11y } = require('./a11y');
const { execFileSync } = require('child_process');

// The calendar file as a parser nobody here wrote reads it (Python's icalendar, in the test
// venv that .ci/setup makes): minutes long, and the join link if any.
const readCalendar = (ics) => {
  const file = path.join(artifacts, 'invitation.ics');
  fs.writeFileSync(file, ics);
  const python = path.join(process.env.SLSPLAY_E2E_TOOLS, '..', '.venv-test', 'bin', 'python');
  const script = [
    'import sys, json, icalendar',
    "ev = next(c for c in icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read()).walk() if c.name == 'VEVENT')",
    "print(json.dumps({'minutes': (ev.decoded('DTEND') - ev.decoded('DTSTART')).total_seconds() / 60,",
    "  'utc': ev.decoded('DTSTART').utcoffset().total_seconds() == 0, 'location': ev.get('LOCATION')}))",
  ].join('\n');
  return JSON.parse(execFileSync(python, ['-c', script, file]).toString());
};

const [linksJson, artifacts] = process.argv.slice(2);
const links = JSON.parse(linksJson);
const fail = (why) => { throw new Error(why); };
const meeting = 'https://meet.example/founders';

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    for (const [name, viewport] of [['360x800', { width: 360, height: 800 }], ['1280x800', { width: 1280, height: 800 }]]) {
      const [ann, bob, cleo, dana] = await Promise.all(links[name].map(async (link) => {
        // axe needs a page of its own context; each guest is a browser of their own.
        const context = await browser.newContext({ viewport });
        const page = await context.newPage();
        const guest = { link, context, page, leaks: [], errors: [] };
        const token = new URL(link).hash.split('.').pop();
        page.on('request', (r) => {
          if (r.url().includes(token) || (r.headers()['referer'] || '').includes(token)) guest.leaks.push(r.url());
        });
        page.on('pageerror', (e) => guest.errors.push(e.message));
        return guest;
      }));
      const shot = async (guest, step) => {
        await guest.page.screenshot({ path: path.join(artifacts, `invitation-${step}-${name}.png`), fullPage: true });
        await checkA11y(guest.page, `the invitation, ${step}, at ${name}`);
      };
      const open = async (guest) => {
        await guest.page.goto(guest.link);
        await guest.page.getByRole('heading', { name: 'Founders evening' }).waitFor();
      };
      const calendar = async (guest) => {
        const [download] = await Promise.all([
          guest.page.waitForEvent('download'),
          guest.page.getByRole('link', { name: 'Add to calendar' }).click(),
        ]);
        return fs.readFileSync(await download.path(), 'utf8');
      };
      const joinLink = (guest) => guest.page.getByRole('link', { name: meeting });

      // Ann: the link is the event's preview page, which boots the app.
      await open(ann);
      const preview = await ann.page.locator('meta[property="og:title"]').getAttribute('content');
      if (preview !== 'Founders evening') fail(`the link is not the preview page: og:title ${preview}`);
      await ann.page.getByText('Your time:').waitFor();
      // The test's event starts in 30 days.
      await ann.page.getByText(/^Starts in (29|30) days(, \d+ hours?)?$/).waitFor();
      await shot(ann, 'open');
      const before = await calendar(ann);
      if (!/DTSTART:\d{8}T\d{6}Z/.test(before) || before.includes(meeting)) fail(`the calendar file before accepting: ${before}`);
      const read = readCalendar(before);
      if (read.minutes !== 90 || !read.utc || read.location !== null) fail(`icalendar read the file as ${JSON.stringify(read)}`);
      await ann.page.getByRole('button', { name: 'Accept' }).click();
      await ann.page.getByText('You are attending.').waitFor({ timeout: 15000 });
      await joinLink(ann).waitFor();
      await shot(ann, 'accepted');
      if (readCalendar(await calendar(ann)).location !== meeting) fail('the calendar file of an attendee has no meeting link');

      // Bob declines: no link.
      await open(bob);
      await bob.page.getByRole('button', { name: 'Decline' }).click();
      await bob.page.getByText('You declined.').waitFor({ timeout: 15000 });
      if (await joinLink(bob).count() !== 0) fail('a guest who declined sees the meeting link');

      // Cleo accepts a full event: waitlisted, first in line, no link.
      await open(cleo);
      await cleo.page.getByRole('button', { name: 'Accept' }).click();
      await cleo.page.getByText('You are number 1 on the waitlist', { exact: false }).waitFor({ timeout: 15000 });
      if (await joinLink(cleo).count() !== 0) fail('a waitlisted guest sees the meeting link');
      await shot(cleo, 'waitlisted');

      // Ann changes her mind: her seat goes to Cleo.
      await ann.page.getByRole('button', { name: 'Decline' }).click();
      await ann.page.getByText('You declined.').waitFor({ timeout: 15000 });
      if (await joinLink(ann).count() !== 0) fail('the meeting link is still shown after declining');
      await cleo.page.getByText('You are attending.').waitFor({ timeout: 30000 });
      await joinLink(cleo).waitFor();
      await shot(cleo, 'promoted');

      // Bob signs in from his invitation with the invited address, and comes back to it.
      await bob.page.locator('article').getByRole('link', { name: 'Sign in' }).click();
      await bob.page.getByRole('button', { name: 'Continue with Google' }).click();
      await bob.page.getByLabel('Email').fill(`bob.${name}@example.com`);
      await bob.page.getByLabel('Name').fill('Bob');
      await bob.page.getByRole('button', { name: 'Sign in' }).click();
      await bob.page.waitForURL(/\/events\/[^/#]+\/invitation$/);
      await bob.page.getByText('You declined.').waitFor({ timeout: 15000 });
      if (await joinLink(bob).count() !== 0) fail('a guest who declined sees the meeting link once signed in');
      await shot(bob, 'signed-in');
      await bob.page.getByRole('link', { name: 'Invitations' }).click();
      await bob.page.getByRole('heading', { name: 'Your invitations' }).waitFor();
      const listed = bob.page.getByRole('listitem').filter({ hasText: 'Founders evening' });
      await listed.getByText('Declined').waitFor();
      await shot(bob, 'listed');
      // From the list, without the link, he changes his mind: the seat is Cleo's, so he waits.
      await listed.getByRole('link').click();
      await bob.page.getByRole('button', { name: 'Accept' }).click();
      await bob.page.getByText('You are number 1 on the waitlist', { exact: false }).waitFor({ timeout: 15000 });

      // Dana: a paid event holds her seat until she pays, then it is hers.
      await dana.page.goto(dana.link);
      await dana.page.getByRole('heading', { name: 'Founders gala' }).waitFor();
      await dana.page.getByText('Ticket 25.00 EUR, not refundable').waitFor();
      await dana.page.getByRole('button', { name: 'Accept' }).click();
      await dana.page.getByText(/^A seat is held for you until .+\. Pay 25\.00 EUR to make it yours\.$/).waitFor({ timeout: 15000 });
      if (await joinLink(dana).count() !== 0) fail('a guest who has not paid sees the meeting link');
      await shot(dana, 'seat-held');
      await dana.page.getByRole('button', { name: 'Pay 25.00 EUR' }).click();
      await dana.page.waitForURL(/\/dev\/pay\//);
      await dana.page.getByRole('button', { name: 'Pay 25.00 EUR' }).click();
      await dana.page.waitForURL(/\/invitation$/, { timeout: 15000 });
      await dana.page.getByText('You are attending.').waitFor({ timeout: 15000 });
      await joinLink(dana).waitFor();
      await shot(dana, 'paid');
      // Back without the link's fragment, the tab still opens her invitation.
      await dana.page.reload();
      await dana.page.getByText('You are attending.').waitFor({ timeout: 15000 });
      // Giving up a paid seat is asked first; saying no keeps it.
      const asked = new Promise((resolve) => dana.page.once('dialog', (d) => { resolve(d.message()); d.dismiss(); }));
      await dana.page.getByRole('button', { name: 'Decline' }).click();
      if (!(await asked).includes('not refundable')) fail('declining a paid seat was not asked first');
      await dana.page.getByText('You are attending.').waitFor();

      for (const guest of [ann, bob, cleo, dana]) {
        if (guest.leaks.length) fail(`the token left the browser outside its header: ${guest.leaks.join(', ')}`);
        if (guest.errors.length) fail(`errors on the page: ${guest.errors.join('; ')}`);
        await guest.context.close();
      }
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
