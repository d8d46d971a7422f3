// Drives the chat example in a real browser (headless Chromium): two
// pages join the same room, one sends, the other must see it.
//
//   apt-get install chromium && npm i playwright-core
//   cargo run --release --example ws_chat -- 127.0.0.1:8090 &
//   node examples/ws_chat/browser_test.mjs http://127.0.0.1:8090/
import { chromium } from 'playwright-core';

const url = process.argv[2] ?? 'http://127.0.0.1:8090/';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const alice = await browser.newPage();
  const bob = await browser.newPage();
  for (const [page, nick] of [[alice, 'alice'], [bob, 'bob']]) {
    await page.goto(url);
    await page.fill('#nick', nick);
    await page.click('#join');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
  }
  await alice.waitForFunction(() => document.getElementById('log').textContent.includes('bob joined lobby'));
  await alice.fill('#text', 'hello from alice <b>not bold</b>');
  await alice.press('#text', 'Enter');
  await bob.waitForFunction(
    () => document.getElementById('log').textContent.includes('alice: hello from alice <b>not bold</b>'),
    null, { timeout: 5000 });
  const bolds = await bob.locator('#log b').count();
  if (bolds !== 0) throw new Error('message was interpreted as HTML');
  await bob.screenshot({ path: process.env.SCREENSHOT ?? 'ws_chat.png' });
  console.log('ws_chat browser test: ok');
} finally {
  await browser.close();
}
