// The storefront page end to end, in Debian's headless Chromium:
//
//   node tests/browser/storefront.mjs <edge-url> <origin-url>
//
// Opens the edge's `/`, types a search character by character (search as
// you type), adds a product to the cart as a guest, applies a coupon that is
// limited per customer (as a guest it gives nothing and the page says to
// sign in), creates an account (the guest cart becomes the shopper's and the
// coupon now applies), checks out, reads the order id from the page, and
// fetches that order from the origin with the shopper's token: it must
// exist with the total the page showed, and be hidden from anyone else. Exits 0 on success; otherwise
// prints the step that failed and why, with a screenshot path, and exits 1.
//
// Environment (all optional):
//   CHROMIUM                 the browser (default /usr/bin/chromium)
//   STOREFRONT_QUERY         what to type (default "hammer")
//   STOREFRONT_PICK          part of the name of the product to add (default: the first in stock)
//   STOREFRONT_HOSTILE       a product name with markup in it that must show as text
//   STOREFRONT_COUPON        the coupon to apply (default WELCOME10)
//   STOREFRONT_TIMEOUT_MS    the whole run's deadline (default 120000)

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [edge, origin] = process.argv.slice(2).map((u) => (u || '').replace(/\/+$/, ''));
if (!edge || !origin) {
  console.error('usage: node tests/browser/storefront.mjs <edge-url> <origin-url>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const query = process.env.STOREFRONT_QUERY || 'hammer';
const pick = process.env.STOREFRONT_PICK || '';
const hostile = process.env.STOREFRONT_HOSTILE || '';
const coupon = process.env.STOREFRONT_COUPON || 'WELCOME10';
const deadlineMs = Number(process.env.STOREFRONT_TIMEOUT_MS || 120000);
const STEP_MS = 15000; // what any one wait may take
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let step = 'starting';
const problems = []; // console errors, page errors, failed requests
const searches = []; // search URLs the page asked for, in order
const checkouts = []; // Idempotency-Key of each checkout request
const tid = (id) => `[data-testid="${id}"]`;

function fail(message) {
  throw new Error(message);
}
function check(condition, message) {
  if (!condition) fail(message);
}

async function getJson(url, token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(STEP_MS) });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

async function run(page) {
  step = 'opening the page';
  const response = await page.goto(`${edge}/`, { waitUntil: 'domcontentloaded', timeout: STEP_MS });
  check(response && response.status() === 200, `GET ${edge}/ answered ${response && response.status()}`);
  check((response.headers()['content-type'] || '').startsWith('text/html'), `GET / is ${response.headers()['content-type']}`);
  step = 'waiting for the departments and the first listing';
  await page.locator(`${tid('category-link')}`).first().waitFor({ timeout: STEP_MS });
  await page.locator(tid('product-card')).first().waitFor({ timeout: STEP_MS });
  const departments = await page.locator(tid('category-link')).count();
  check(departments > 0, 'no departments in the navigation');

  step = `typing "${query}" character by character`;
  const input = page.locator(tid('search-input'));
  await input.click();
  const head = query.slice(0, Math.max(1, Math.ceil(query.length / 2)));
  const tail = query.slice(head.length);
  await input.pressSequentially(head, { delay: 40 });
  // A pause longer than the debounce: the page searches for what is typed so far.
  await page.locator(tid('listing-title')).filter({ hasText: `for “${head}”` }).waitFor({ timeout: STEP_MS });
  const afterHead = searches.length;
  await input.pressSequentially(tail, { delay: 40 });
  await page.locator(tid('listing-title')).filter({ hasText: `for “${query}”` }).waitFor({ timeout: STEP_MS });
  check(afterHead >= 1, 'typing the first characters sent no search');
  check(searches.length >= 2, `expected a search per pause, saw ${searches.length}: ${searches.join(', ')}`);
  check(searches.length < query.length, `the search is not debounced: ${searches.length} requests for ${query.length} characters`);
  const lastQ = new URL(searches[searches.length - 1]).searchParams.get('q');
  check(lastQ === query, `the last search asked for "${lastQ}", not "${query}"`);
  const cards = page.locator(tid('product-card'));
  check((await cards.count()) > 0, `no results for "${query}"`);
  const emphasised = await page.locator(`${tid('product-card')} ${tid('product-name')} em`).count();
  check(emphasised > 0, `no result highlights the matched words (${await cards.first().innerText()})`);

  if (hostile) {
    step = 'checking that product data is shown as text';
    const names = await page.locator(`${tid('product-card')} ${tid('product-name')}`).evaluateAll((nodes) =>
      nodes.map((n) => ({ text: n.textContent, tags: [...n.querySelectorAll('*')].map((c) => c.tagName) })));
    const shown = names.find((n) => n.text === hostile);
    check(shown, `the product named ${JSON.stringify(hostile)} is not shown as that text: ${JSON.stringify(names)}`);
    check(shown.tags.every((t) => t === 'EM'), `its name made elements ${shown.tags.join(', ')}`);
  }

  step = 'adding a product to the cart';
  let card = cards.filter({ has: page.locator(`${tid('add-to-cart')}:enabled`) });
  if (pick) card = card.filter({ hasText: pick });
  card = card.first();
  await card.waitFor({ timeout: STEP_MS });
  const productId = await card.getAttribute('data-product-id');
  const productName = await card.locator(tid('product-name')).innerText();
  const price = Number(await card.locator(tid('product-price')).getAttribute('data-amount-minor'));
  await card.locator(tid('add-to-cart')).click();
  await page.locator(`${tid('cart-line')}[data-product-id="${productId}"]`).waitFor({ timeout: STEP_MS });
  check((await page.locator(tid('cart-count')).innerText()) === '1', 'the cart count is not 1');
  const cartId = await page.locator(tid('cart')).getAttribute('data-cart-id');
  check(UUID.test(cartId || ''), `the cart has no id: ${cartId}`);
  const stored = await page.evaluate(() => localStorage.getItem('vitrine.cart'));
  check(stored === cartId, `localStorage keeps ${stored}, the page shows cart ${cartId}`);
  check((await page.locator(tid('cart')).getAttribute('data-priced')) === 'yes',
    'the cart is not priced by the edge (no `pricing` in GET /api/v1/carts/{id})');

  step = `applying coupon ${coupon} as a guest`;
  const subtotalBefore = Number(await page.locator(tid('cart-subtotal')).getAttribute('data-amount-minor'));
  check(subtotalBefore === price, `the subtotal ${subtotalBefore} is not the product's price ${price}`);
  await page.locator(tid('coupon-input')).fill(coupon.toLowerCase());
  await page.locator(tid('coupon-apply')).click();
  await page.locator(`${tid('coupon-chip')}[data-code="${coupon}"]`).waitFor({ timeout: STEP_MS });
  const adjustment = page.locator(`${tid('cart-adjustment')}[data-coupon="${coupon}"]`);
  const chip = page.locator(`${tid('coupon-chip')}[data-code="${coupon}"]`);
  check((await adjustment.count()) === 0 && (await chip.getAttribute('data-applied')) === 'no',
    `${coupon} is limited per customer, yet it gave a guest cart a discount`);
  const guestNote = await page.locator(tid('cart-message')).innerText();
  check(/sign/i.test(guestNote), `the page did not tell the guest to sign in for ${coupon}: "${guestNote}"`);

  step = 'creating an account';
  const email = `shopper-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await page.locator(tid('account-email')).fill(email);
  await page.locator(tid('account-password')).fill('correct horse battery staple');
  await page.locator(tid('account-name-input')).fill('Thandi Shopper');
  await page.locator(tid('account-register')).click();
  await page.locator(tid('account-signed-in')).waitFor({ state: 'visible', timeout: STEP_MS });
  check((await page.locator(tid('account-name')).innerText()).includes(email), 'the page does not say who is signed in');
  const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem('vitrine.session') || 'null'));
  check(session && session.access_token && session.user.email === email, `no session kept for ${email}`);
  check((await page.locator(tid('cart')).getAttribute('data-cart-id')) === cartId, 'signing up lost the guest cart');
  check((await page.locator(tid('cart-count')).innerText()) === '1', 'signing up changed the cart');
  const guestView = await getJson(`${edge}/api/v1/carts/${cartId}`);
  check(guestView.status === 404, `the shopper's cart is visible without their token: ${guestView.status}`);

  step = `pricing ${coupon} for the signed-in shopper`;
  await adjustment.first().waitFor({ timeout: STEP_MS }).catch(() => {});
  if ((await adjustment.count()) === 0) {
    const notes = await page.locator(tid('cart-promotions')).innerText().catch(() => '');
    fail(`${coupon} gave no adjustment on "${productName}": ${await page.locator(tid('cart-message')).innerText()} ${notes}`);
  }
  const discount = Number(await adjustment.first().getAttribute('data-amount-minor'));
  check(discount > 0, `${coupon}'s adjustment is ${discount}`);
  const totalNode = page.locator(tid('cart-total'));
  const cartTotal = Number(await totalNode.getAttribute('data-amount-minor'));
  const cartTotalText = await totalNode.innerText();
  const amount = async (id) => Number(await page.locator(tid(id)).getAttribute('data-amount-minor'));
  const [subtotal, discounts, shipping] = [await amount('cart-subtotal'), await amount('cart-discount'), await amount('cart-shipping')];
  check(discounts <= -discount && subtotal + discounts + shipping === cartTotal,
    `the totals do not add up: ${subtotal} ${discounts} + ${shipping} shown as ${cartTotal} (${cartTotalText})`);

  step = 'checking out';
  const token = await page.locator(tid('checkout-token')).inputValue();
  check(token === 'tok_visa', `the payment token field defaults to "${token}"`);
  check((await page.locator(tid('checkout-email')).inputValue()) === email, 'the checkout email is not the signed-in shopper\'s');
  await page.locator(tid('checkout-submit')).click();
  const outcome = await Promise.race([
    page.locator(tid('order-confirmation')).waitFor({ state: 'visible', timeout: 30000 }).then(() => 'placed'),
    page.locator(`${tid('checkout-message')}.error`).waitFor({ state: 'visible', timeout: 30000 }).then(() => 'refused'),
  ]);
  if (outcome !== 'placed') {
    const note = page.locator(tid('checkout-message'));
    fail(`checkout failed (${await note.getAttribute('data-code')}): ${await note.innerText()}`);
  }
  check(checkouts.length >= 1 && checkouts.every((k) => UUID.test(k || '')),
    `the checkout requests carried Idempotency-Key ${JSON.stringify(checkouts)}`);
  check(new Set(checkouts).size === 1, `one attempt used several keys: ${JSON.stringify(checkouts)}`);
  const orderId = (await page.locator(tid('order-id')).innerText()).trim();
  check(UUID.test(orderId), `the page shows order id "${orderId}"`);
  const orderTotal = page.locator(tid('order-total'));
  const shownTotal = Number(await orderTotal.getAttribute('data-amount-minor'));
  const shownCurrency = await orderTotal.getAttribute('data-currency');
  const shownText = await orderTotal.innerText();
  const shownStatus = await page.locator(tid('order-status')).getAttribute('data-status');
  check(shownTotal === cartTotal, `the order total ${shownTotal} (${shownText}) is not the cart's ${cartTotal} (${cartTotalText})`);
  check((await page.locator(tid('cart-count')).innerText()) === '0', 'the cart is not emptied after the order');

  step = `fetching order ${orderId} from the origin`;
  const anonymous = await getJson(`${origin}/api/v1/orders/${orderId}`);
  check(anonymous.status === 404, `the shopper's order is visible without their token: ${anonymous.status}`);
  const fromOrigin = await getJson(`${origin}/api/v1/orders/${orderId}`, session.access_token);
  check(fromOrigin.status === 200, `GET ${origin}/api/v1/orders/${orderId} answered ${fromOrigin.status}: ${JSON.stringify(fromOrigin.body)}`);
  const order = fromOrigin.body;
  check(order.id === orderId, `the origin's order is ${order.id}`);
  check(order.total.amount_minor === shownTotal && order.total.currency === shownCurrency,
    `the origin's total is ${JSON.stringify(order.total)}, the page showed ${shownTotal} ${shownCurrency} (${shownText})`);
  check(order.cart_id === cartId, `the order was made from cart ${order.cart_id}, not ${cartId}`);
  check(order.status === shownStatus, `the origin says ${order.status}, the page ${shownStatus}`);
  check(order.lines.length === 1 && order.lines[0].product_id === productId, `the order's lines: ${JSON.stringify(order.lines)}`);
  check((order.adjustments || []).some((a) => a.coupon === coupon), `the order carries no ${coupon} adjustment: ${JSON.stringify(order.adjustments)}`);
  check(order.customer_id === session.user.id, `the order belongs to ${order.customer_id}, not ${session.user.id}`);
  const throughEdge = await getJson(`${edge}/api/v1/orders/${orderId}`, session.access_token);
  check(throughEdge.status === 200 && throughEdge.body.total.amount_minor === shownTotal,
    `through the edge the order answered ${throughEdge.status}: ${JSON.stringify(throughEdge.body)}`);

  step = 'reloading the page';
  await page.reload({ waitUntil: 'domcontentloaded', timeout: STEP_MS });
  await page.locator(tid('product-card')).first().waitFor({ timeout: STEP_MS });
  check((await page.locator(tid('cart-line')).count()) === 0, 'a reloaded page still shows the ordered cart');

  const serious = problems.filter((p) => !p.includes('net::ERR_ABORTED'));
  check(serious.length === 0, `the page logged problems:\n  ${serious.join('\n  ')}`);
  return { orderId, shownText, shownTotal, shownCurrency, productName, discount, searches: searches.length, status: order.status };
}

async function main() {
  let browser;
  let page;
  const timer = setTimeout(() => {
    console.error(`storefront: FAILED: the run took over ${deadlineMs} ms (at: ${step})`);
    process.exit(1);
  }, deadlineMs);
  try {
    step = `launching ${executablePath}`;
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'], headless: true, timeout: STEP_MS });
    const context = await browser.newContext({ locale: 'en-ZA', viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(STEP_MS);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('request', (r) => {
      const url = r.url();
      if (url.includes('/api/v1/search?')) searches.push(url);
      if (url.endsWith('/api/v1/checkout') && r.method() === 'POST') checkouts.push(r.headers()['idempotency-key']);
    });
    const result = await run(page);
    console.log(`storefront: ok: order ${result.orderId} (${result.status}) for ${result.shownText} [${result.shownTotal} ${result.shownCurrency}], `
      + `"${result.productName}" with ${coupon} (-${result.discount}), ${result.searches} searches while typing "${query}"`);
    clearTimeout(timer);
    await browser.close();
    process.exit(0);
  } catch (error) {
    let shot = '';
    if (page) {
      shot = join(tmpdir(), `vitrine-storefront-${Date.now()}.png`);
      await page.screenshot({ path: shot, fullPage: true, timeout: 5000 }).catch(() => { shot = ''; });
    }
    console.error(`storefront: FAILED while ${step}: ${error && error.message ? error.message : error}`);
    if (shot) console.error(`storefront: screenshot ${shot}`);
    if (problems.length) console.error(`storefront: the page logged:\n  ${problems.join('\n  ')}`);
    if (searches.length) console.error(`storefront: searches sent: ${searches.join(', ')}`);
    clearTimeout(timer);
    if (browser) await browser.close().catch(() => {});
    process.exit(1);
  }
}

main();
