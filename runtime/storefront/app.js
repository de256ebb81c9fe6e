// The storefront page: catalog, search as you type, the cart priced by the
// edge's promotions, and checkout, all through the edge's /api/v1 paths.
//
// Rules this file keeps:
// - Product data reaches the page as text (textContent, text nodes), never
//   as HTML; search highlights are split on the origin's <em> tags and each
//   piece decoded and added as text.
// - Money stays integer minor units; only display formatting turns it into
//   a decimal string (built from the integer, never by dividing a float).
// - A checkout attempt has one Idempotency-Key; a retry of that attempt
//   after a network failure (the outcome unknown) reuses it, anything else
//   gets a fresh one.
// - A signed-in shopper's tokens live in sessionStorage (gone when the tab
//   closes) and go out only as `Authorization: Bearer` to this page's own
//   /api/v1 paths. An expired access token is refreshed once, by one
//   request at a time; a refused refresh signs the shopper out.
'use strict';

(() => {
  const CART_KEY = 'vitrine.cart';
  const SESSION_KEY = 'vitrine.session';
  const PER_PAGE = 24;
  const MAX_RESULT_WINDOW = 10000; // the origin's page × per_page ceiling
  const SEARCH_DEBOUNCE_MS = 150;
  const REQUEST_TIMEOUT_MS = 10000;
  const CHECKOUT_TIMEOUT_MS = 20000;
  const CHECKOUT_RETRIES = 2;
  const LOCALE = document.documentElement.lang || 'en-ZA';

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  // ── DOM ─────────────────────────────────────────────────────────────────

  // Builds an element; strings among the children become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function message(node, text, kind) {
    node.textContent = text || '';
    node.className = `message${kind ? ` ${kind}` : ''}`;
    show(node, Boolean(text));
  }

  // The origin's highlights are HTML-escaped text with matched words in
  // <em>. Only those tags are honoured; everything else is text.
  const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
  function decodeEntities(text) {
    return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
  }
  function highlighted(escaped) {
    const fragment = document.createDocumentFragment();
    let inside = false;
    for (const part of String(escaped).split(/(<em>|<\/em>)/)) {
      if (part === '<em>') inside = true;
      else if (part === '</em>') inside = false;
      else if (part) {
        const text = decodeEntities(part);
        fragment.append(inside ? el('em', null, text) : text);
      }
    }
    return fragment;
  }

  // ── money ───────────────────────────────────────────────────────────────

  const formats = new Map();
  function currencyFormat(currency) {
    if (!formats.has(currency)) {
      let format;
      try {
        format = new Intl.NumberFormat(LOCALE, { style: 'currency', currency });
      } catch {
        format = null; // an unknown code: shown as "<code> <amount>"
      }
      formats.set(currency, format);
    }
    return formats.get(currency);
  }

  // Minor units to a display string. The decimal is written from the
  // integer's digits; Intl formats that exact decimal string.
  function formatMoney(amountMinor, currency) {
    if (!Number.isSafeInteger(amountMinor) || typeof currency !== 'string') return '—';
    const format = currencyFormat(currency);
    const digits = format ? format.resolvedOptions().maximumFractionDigits : 2;
    const sign = amountMinor < 0 ? '-' : '';
    const abs = String(Math.abs(amountMinor)).padStart(digits + 1, '0');
    const decimal = digits === 0 ? abs : `${abs.slice(0, abs.length - digits)}.${abs.slice(abs.length - digits)}`;
    return format ? format.format(`${sign}${decimal}`) : `${currency} ${sign}${decimal}`;
  }

  // A money element the test (and assistive tech) can read exactly.
  function moneyNode(tag, attrs, amountMinor, currency) {
    return el(tag, { ...attrs, dataset: { ...(attrs.dataset || {}), amountMinor: String(amountMinor), currency } }, formatMoney(amountMinor, currency));
  }
  function setMoney(node, amountMinor, currency) {
    node.textContent = formatMoney(amountMinor, currency);
    node.dataset.amountMinor = String(amountMinor);
    node.dataset.currency = currency;
  }

  // ── HTTP ────────────────────────────────────────────────────────────────

  // The server answered with an error envelope (or at least a status).
  class ApiError extends Error {
    constructor(status, code, text, details) {
      super(text);
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }
  // No answer: the connection failed or the request timed out. The request
  // may or may not have taken effect.
  class NetworkError extends Error {}

  // A request as the signed-in shopper (if any). A 401 on a request that
  // carried an access token refreshes the session once and retries.
  async function api(method, path, options = {}) {
    const session = state.session;
    try {
      return await request(method, path, options, session);
    } catch (error) {
      const expired = error instanceof ApiError && error.status === 401 && session && !path.startsWith('/api/v1/auth/');
      if (!expired) throw error;
      const renewed = await renewSession(session);
      if (!renewed) throw new ApiError(401, 'signed_out', 'your session ended: sign in again');
      return request(method, path, options, renewed);
    }
  }

  async function request(method, path, { body, headers, signal, timeout = REQUEST_TIMEOUT_MS } = {}, session = null) {
    const signals = [AbortSignal.timeout(timeout)];
    if (signal) signals.push(signal);
    const init = {
      method,
      headers: { Accept: 'application/json', ...(headers || {}) },
      signal: AbortSignal.any(signals),
      credentials: 'same-origin',
    };
    if (session) init.headers.Authorization = `Bearer ${session.access_token}`;
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    let response;
    let text;
    try {
      response = await fetch(path, init);
      text = await response.text();
    } catch (error) {
      if (signal && signal.aborted) throw error; // the caller cancelled: stale
      const timedOut = error && error.name === 'TimeoutError';
      throw new NetworkError(timedOut ? `${method} ${path} timed out` : `${method} ${path} failed: ${error}`);
    }
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const envelope = json && json.error ? json.error : {};
      throw new ApiError(
        response.status,
        envelope.code || `http_${response.status}`,
        envelope.message || `the shop answered ${response.status}`,
        envelope.details,
      );
    }
    return json;
  }

  function isAbort(error) {
    return error && error.name === 'AbortError';
  }

  function uuid() {
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ── catalog and search ──────────────────────────────────────────────────

  const state = {
    categories: [],
    category: null, // {slug, name, path}
    sort: 'popular',
    query: '',
    page: 1,
    cart: null,
    cartId: readCartId(),
    session: readSession(), // {access_token, refresh_token, user} or null
    pendingCheckout: null, // an attempt whose outcome is unknown
  };

  let resultsController = null; // the one listing or search in flight
  let searchTimer = null;

  function readCartId() {
    try {
      return localStorage.getItem(CART_KEY);
    } catch {
      return null;
    }
  }
  function writeCartId(id) {
    state.cartId = id;
    try {
      if (id) localStorage.setItem(CART_KEY, id);
      else localStorage.removeItem(CART_KEY);
    } catch {
      // Storage off (private mode): the cart lasts as long as the page.
    }
  }

  function readSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      return session && session.access_token && session.refresh_token && session.user ? session : null;
    } catch {
      return null;
    }
  }
  function writeSession(session) {
    state.session = session;
    try {
      if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      else sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // Storage off: the session lasts as long as the page.
    }
    renderAccount();
  }

  function findCategory(slug, nodes = state.categories) {
    for (const node of nodes) {
      if (node.slug === slug) return node;
      const inner = findCategory(slug, node.children || []);
      if (inner) return inner;
    }
    return null;
  }

  function renderCategories() {
    const current = state.query ? [] : (state.category && state.category.path) || [];
    const list = (nodes, depth) => {
      const ul = el('ul');
      for (const node of nodes) {
        const onPath = current.includes(node.slug);
        const button = el('button', {
          type: 'button',
          dataset: { testid: 'category-link', slug: node.slug },
          'aria-current': state.category && state.category.slug === node.slug && !state.query ? 'true' : null,
          onclick: () => openCategory(node),
        }, node.name);
        const li = el('li', null, button);
        // Roots show their children; deeper levels open along the current path.
        if ((depth === 0 || onPath) && node.children && node.children.length) {
          li.append(list(node.children, depth + 1));
        }
        ul.append(li);
      }
      return ul;
    };
    const nav = $('category-nav');
    nav.replaceChildren(...list(state.categories, 0).children);
  }

  function openCategory(node) {
    clearTimeout(searchTimer);
    $('search-input').value = '';
    state.query = '';
    state.category = { slug: node.slug, name: node.name, path: node.path || [node.slug] };
    state.page = 1;
    renderCategories();
    loadResults();
  }

  function resultsUrl() {
    const params = new URLSearchParams({ page: String(state.page), per_page: String(PER_PAGE) });
    if (state.query) {
      params.set('q', state.query);
      return `/api/v1/search?${params}`;
    }
    params.set('sort', state.sort);
    return `/api/v1/categories/${encodeURIComponent(state.category.slug)}/products?${params}`;
  }

  async function loadResults() {
    if (!state.query && !state.category) return;
    if (resultsController) resultsController.abort();
    const controller = new AbortController();
    resultsController = controller;
    const grid = $('product-grid');
    grid.setAttribute('aria-busy', 'true');
    try {
      const page = await api('GET', resultsUrl(), { signal: controller.signal });
      if (controller !== resultsController) return;
      renderResults(page);
      message($('listing-message'), '');
    } catch (error) {
      if (isAbort(error) || controller !== resultsController) return;
      message($('listing-message'), describe(error, 'loading products'), 'error');
    } finally {
      if (controller === resultsController) grid.removeAttribute('aria-busy');
    }
  }

  function renderResults(page) {
    const products = page.products || [];
    const highlights = page.highlights || {};
    const title = $('listing-title');
    if (state.query) {
      title.textContent = `${page.total} result${page.total === 1 ? '' : 's'} for “${state.query}”`;
    } else {
      title.textContent = page.category ? page.category.name : state.category.name;
    }
    title.dataset.total = String(page.total);
    show($('sort-select').closest('label'), !state.query);
    const grid = $('product-grid');
    grid.dataset.query = state.query;
    grid.replaceChildren(...products.map((p) => productCard(p, highlights[p.id])));
    if (!products.length) {
      grid.append(el('li', { class: 'empty', dataset: { testid: 'no-results' } },
        state.query ? 'Nothing matches that yet: try fewer or other words.' : 'No products here yet.'));
    }
    const perPage = page.per_page || PER_PAGE;
    const maxPages = state.query ? Math.floor(MAX_RESULT_WINDOW / perPage) : Infinity;
    const pages = Math.max(1, Math.min(Math.ceil(page.total / perPage), maxPages));
    $('page-info').textContent = `Page ${state.page} of ${pages}`;
    $('page-prev').disabled = state.page <= 1;
    $('page-next').disabled = state.page >= pages;
  }

  function productCard(product, highlight) {
    const name = el('div', { class: 'name', dataset: { testid: 'product-name' } });
    name.append(highlight && highlight.name ? highlighted(highlight.name) : product.name);
    const card = el('li', { class: 'card', dataset: { testid: 'product-card', productId: product.id } },
      name,
      el('div', { class: 'brand-name', dataset: { testid: 'product-brand' } }, product.brand));
    if (highlight && highlight.description) {
      const snippet = el('p', { class: 'snippet', dataset: { testid: 'product-snippet' } });
      snippet.append(highlighted(highlight.description));
      card.append(snippet);
    }
    const badges = Array.isArray(product.badges) ? product.badges.filter((b) => typeof b === 'string') : [];
    if (badges.length) {
      card.append(el('ul', { class: 'badges' }, ...badges.map((b) => el('li', null, b))));
    }
    card.append(moneyNode('div', { class: 'price', dataset: { testid: 'product-price' } },
      product.price.amount_minor, product.price.currency));
    if (!product.in_stock) card.append(el('div', { class: 'stock-out' }, 'Out of stock'));
    card.append(el('button', {
      type: 'button',
      dataset: { testid: 'add-to-cart' },
      disabled: !product.in_stock,
      'aria-label': `Add ${product.name} to cart`,
      onclick: (event) => addToCart(product, event.currentTarget),
    }, 'Add to cart'));
    return card;
  }

  function onSearchInput() {
    clearTimeout(searchTimer);
    // What is in flight answers a query that is no longer typed.
    if (resultsController) resultsController.abort();
    const q = $('search-input').value.trim();
    searchTimer = setTimeout(() => runSearch(q), SEARCH_DEBOUNCE_MS);
  }

  function runSearch(q) {
    clearTimeout(searchTimer);
    state.page = 1;
    state.query = q;
    if (!q && !state.category && state.categories.length) {
      openCategory(state.categories[0]);
      return;
    }
    renderCategories();
    loadResults();
  }

  // ── cart ────────────────────────────────────────────────────────────────

  // Cart changes run one at a time, in the order they were asked for.
  let cartQueue = Promise.resolve();
  function cartTask(task) {
    const run = cartQueue.then(task, task);
    cartQueue = run.catch(() => {});
    return run;
  }

  async function ensureCart() {
    if (state.cartId) return state.cartId;
    const cart = await api('POST', '/api/v1/carts', { headers: { 'Idempotency-Key': uuid() } });
    writeCartId(cart.id);
    return cart.id;
  }

  // A cart that expired or was ordered is forgotten; the next add starts one.
  function isGoneCart(error) {
    return error instanceof ApiError && (error.status === 404 || error.code === 'cart_closed');
  }

  async function refreshCart() {
    if (!state.cartId) {
      state.cart = null;
      renderCart();
      return;
    }
    try {
      const cart = await api('GET', `/api/v1/carts/${encodeURIComponent(state.cartId)}`);
      if (cart.status !== 'open') {
        writeCartId(null);
        state.cart = null;
      } else {
        state.cart = cart;
      }
    } catch (error) {
      if (!isGoneCart(error)) throw error;
      writeCartId(null);
      state.cart = null;
    }
    renderCart();
  }

  function addToCart(product, button) {
    button.disabled = true;
    return cartTask(async () => {
      const add = async () => {
        const id = await ensureCart();
        await api('POST', `/api/v1/carts/${encodeURIComponent(id)}/lines`, {
          body: { product_id: product.id, quantity: 1 },
        });
      };
      try {
        try {
          await add();
        } catch (error) {
          if (isGoneCart(error)) {
            writeCartId(null);
            await add();
          } else if (error instanceof ApiError && error.code === 'cart_busy') {
            await add();
          } else {
            throw error;
          }
        }
        show($('order-confirmation'), false);
        await refreshCart();
        message($('cart-message'), `Added ${product.name}.`, 'ok');
      } catch (error) {
        message($('cart-message'), describe(error, `adding ${product.name}`), 'error');
      } finally {
        button.disabled = !product.in_stock;
      }
    });
  }

  function changeCart(method, path, body, doing) {
    return cartTask(async () => {
      if (!state.cartId) return;
      try {
        await api(method, `/api/v1/carts/${encodeURIComponent(state.cartId)}${path}`, { body });
        await refreshCart();
        message($('cart-message'), '');
      } catch (error) {
        if (isGoneCart(error)) {
          writeCartId(null);
          state.cart = null;
          renderCart();
        }
        message($('cart-message'), describe(error, doing), 'error');
      }
    });
  }

  function renderCart() {
    const cart = state.cart;
    const lines = cart ? cart.lines : [];
    const pricing = cart && cart.pricing ? cart.pricing : null;
    const root = $('cart');
    root.dataset.priced = pricing ? 'yes' : 'no';
    root.dataset.cartId = cart ? cart.id : '';
    $('cart-count').textContent = String(cart ? cart.item_count : 0);
    show($('cart-empty'), lines.length === 0);
    show($('cart-totals'), lines.length > 0);

    const adjustments = pricing && Array.isArray(pricing.adjustments) ? pricing.adjustments : [];
    const currency = pricing ? pricing.currency : cart ? cart.subtotal.currency : 'ZAR';

    $('cart-lines').replaceChildren(...lines.map((line) => {
      const qty = el('div', { class: 'qty' },
        el('button', {
          type: 'button', class: 'quiet', 'aria-label': `One fewer ${line.name}`,
          dataset: { testid: 'line-decrease' }, disabled: line.quantity <= 1,
          onclick: () => changeCart('PATCH', `/lines/${line.id}`, { quantity: line.quantity - 1 }, 'changing the quantity'),
        }, '−'),
        el('span', { dataset: { testid: 'line-quantity' } }, String(line.quantity)),
        el('button', {
          type: 'button', class: 'quiet', 'aria-label': `One more ${line.name}`,
          dataset: { testid: 'line-increase' },
          onclick: () => changeCart('PATCH', `/lines/${line.id}`, { quantity: line.quantity + 1 }, 'changing the quantity'),
        }, '+'),
        el('button', {
          type: 'button', class: 'quiet', 'aria-label': `Remove ${line.name}`,
          dataset: { testid: 'line-remove' },
          onclick: () => changeCart('DELETE', `/lines/${line.id}`, undefined, 'removing the line'),
        }, 'Remove'));
      const li = el('li', { dataset: { testid: 'cart-line', productId: line.product_id, lineId: line.id } },
        el('div', null,
          el('div', { class: 'name' }, line.name),
          el('div', { class: 'hint' }, `${formatMoney(line.unit_price.amount_minor, line.unit_price.currency)} each`)),
        moneyNode('div', { class: 'line-total', dataset: { testid: 'line-total' } },
          line.line_total.amount_minor, line.line_total.currency),
        qty);
      for (const a of adjustments.filter((x) => x.level === 'line' && x.line_id === line.id)) {
        li.append(el('div', { class: 'line-saving' }, `${a.reason}: −${formatMoney(a.amount_minor, currency)}`));
      }
      return li;
    }));

    // Promotions: what applied, and why something did not.
    const notes = [];
    if (pricing) {
      for (const s of pricing.skipped || []) {
        notes.push(el('li', { dataset: { testid: 'cart-skipped', plugin: s.plugin } },
          `A promotion (${s.plugin}) could not be checked just now; the cart is priced without it.`));
      }
      for (const x of pricing.excluded || []) {
        notes.push(el('li', { dataset: { testid: 'cart-excluded', plugin: x.plugin } }, x.reason || `${x.plugin} does not apply`));
      }
    }
    $('cart-adjustments').replaceChildren(...adjustments.map((a) => {
      const on = a.level === 'line' ? lines.find((l) => l.id === a.line_id) : null;
      const label = `${a.reason}${a.coupon ? ` (${a.coupon})` : ''}${on ? ` — ${on.name}` : ''}${a.level === 'shipping' ? ' — delivery' : ''}`;
      return el('li', {
        dataset: { testid: 'cart-adjustment', plugin: a.plugin, level: a.level, coupon: a.coupon || '', amountMinor: String(a.amount_minor) },
      }, el('span', null, label), el('span', null, `−${formatMoney(a.amount_minor, currency)}`));
    }));
    $('cart-notes').replaceChildren(...notes);
    show($('cart-promotions'), lines.length > 0 && (adjustments.length > 0 || notes.length > 0));

    if (pricing && pricing.totals) {
      const t = pricing.totals;
      setMoney($('cart-subtotal'), t.subtotal_minor, currency);
      setMoney($('cart-discount'), -t.discount_minor, currency);
      // shipping_minor is what the shopper pays: the fee less its discount.
      const shipping = t.shipping_minor;
      setMoney($('cart-shipping'), shipping, currency);
      if (shipping === 0 && t.shipping_discount_minor > 0) $('cart-shipping').textContent = 'Free';
      setMoney($('cart-total'), t.total_minor, currency);
    } else if (cart) {
      // Not priced (an edge without promotions): the origin's subtotal.
      setMoney($('cart-subtotal'), cart.subtotal.amount_minor, currency);
      setMoney($('cart-discount'), 0, currency);
      $('cart-shipping').textContent = 'At checkout';
      setMoney($('cart-total'), cart.subtotal.amount_minor, currency);
    }

    const coupons = cart ? cart.coupons : [];
    $('coupon-list').replaceChildren(...coupons.map((code) => {
      const gave = adjustments.filter((a) => a.coupon === code);
      const status = !pricing ? '' : gave.length ? ` — ${gave[0].reason}` : ' — no discount on this cart';
      return el('li', { dataset: { testid: 'coupon-chip', code, applied: gave.length ? 'yes' : 'no' } },
        el('span', null, `${code}${status}`),
        el('button', {
          type: 'button', class: 'quiet', 'aria-label': `Remove coupon ${code}`,
          onclick: () => changeCart('DELETE', `/coupons/${encodeURIComponent(code)}`, undefined, `removing ${code}`),
        }, '×'));
    }));
    $('checkout-submit').disabled = lines.length === 0;
  }

  function applyCoupon(event) {
    event.preventDefault();
    const input = $('coupon-input');
    const code = input.value.trim().toUpperCase();
    const note = $('cart-message');
    if (!/^[A-Z0-9_-]{1,32}$/.test(code)) {
      message(note, 'Coupon codes are 1 to 32 letters, digits, “-” or “_”.', 'error');
      return undefined;
    }
    return cartTask(async () => {
      try {
        const id = await ensureCart();
        await api('POST', `/api/v1/carts/${encodeURIComponent(id)}/coupons/${encodeURIComponent(code)}`);
        await refreshCart();
        input.value = '';
        const pricing = state.cart && state.cart.pricing;
        const gave = pricing ? (pricing.adjustments || []).find((a) => a.coupon === code) : null;
        if (!pricing || gave) {
          message(note, gave ? `${code} applied: ${gave.reason}.` : `${code} added to your cart.`, 'ok');
        } else {
          const why = (pricing.excluded || []).map((x) => x.reason).filter(Boolean).join(' ');
          const hint = state.session ? '' : ' Coupons limited to one use per customer need you signed in.';
          message(note, `${code} is on your cart but gives no discount on it right now.${why ? ` ${why}` : ''}${hint}`);
        }
      } catch (error) {
        if (isGoneCart(error)) writeCartId(null);
        message(note, describe(error, `applying ${code}`), 'error');
      }
    });
  }

  // ── account ─────────────────────────────────────────────────────────────

  // One refresh at a time: requests that all found the token expired wait
  // for the same refresh (a refresh token works once; a second use would
  // revoke the session).
  let renewing = null;
  function renewSession(stale) {
    if (state.session && state.session.access_token !== stale.access_token) return Promise.resolve(state.session);
    if (!renewing) {
      renewing = (async () => {
        try {
          const pair = await request('POST', '/api/v1/auth/refresh', { body: { refresh_token: stale.refresh_token } });
          const session = { access_token: pair.access_token, refresh_token: pair.refresh_token, user: pair.user };
          writeSession(session);
          return session;
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 401)) throw error;
          // Expired or revoked: the shopper is signed out, and the cart was theirs.
          writeSession(null);
          writeCartId(null);
          state.cart = null;
          renderCart();
          message($('account-message'), 'Your session ended: sign in again to see your cart.', 'error');
          return null;
        } finally {
          renewing = null;
        }
      })();
    }
    return renewing;
  }

  async function signIn(email, password) {
    const answer = await request('POST', '/api/v1/auth/login', {
      body: state.cartId ? { email, password, guest_cart_id: state.cartId } : { email, password },
    });
    writeSession({ access_token: answer.access_token, refresh_token: answer.refresh_token, user: answer.user });
    // The guest cart is now the shopper's (or merged into the one they had).
    writeCartId(answer.cart_id || null);
    await refreshCart();
  }

  function submitAccount(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const creating = event.submitter && event.submitter.dataset.testid === 'account-register';
    const note = $('account-message');
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    const name = form.elements.name.value.trim();
    if (!email || !password) {
      message(note, 'Enter your email and password.', 'error');
      return undefined;
    }
    if (creating && (password.length < 10 || !name)) {
      message(note, 'A new account needs your name and a password of at least 10 characters.', 'error');
      return undefined;
    }
    form.setAttribute('aria-busy', 'true');
    return cartTask(async () => {
      try {
        if (creating) await request('POST', '/api/v1/auth/register', { body: { email, password, name } });
        await signIn(email, password);
        form.reset();
        message(note, creating ? `Welcome, ${state.session.user.name}: your account is ready.` : '', 'ok');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) message(note, 'That email and password do not match an account.', 'error');
        else if (error instanceof ApiError && error.code === 'email_taken') message(note, 'An account with this email exists: sign in instead.', 'error');
        else if (error instanceof ApiError && error.status === 422) message(note, `${error.message}.`, 'error');
        else message(note, describe(error, creating ? 'creating your account' : 'signing you in'), 'error');
      } finally {
        form.removeAttribute('aria-busy');
      }
    });
  }

  function signOut() {
    const session = state.session;
    return cartTask(async () => {
      writeSession(null);
      // The cart stays with the account; this page starts a guest one.
      writeCartId(null);
      state.cart = null;
      renderCart();
      message($('account-message'), 'You are signed out.', 'ok');
      if (session) {
        await request('POST', '/api/v1/auth/logout', { body: { refresh_token: session.refresh_token } }).catch(() => {});
      }
    });
  }

  function renderAccount() {
    const session = state.session;
    show($('account-form'), !session);
    show($('account-signed-in'), Boolean(session));
    $('account-name').textContent = session ? `${session.user.name} (${session.user.email})` : '';
    const email = document.getElementById('checkout-email');
    if (session && email && !email.value) email.value = session.user.email;
  }

  // ── checkout ────────────────────────────────────────────────────────────

  async function checkout(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const note = $('checkout-message');
    if (!state.cart || state.cart.lines.length === 0) {
      message(note, 'Your cart is empty.', 'error');
      return;
    }
    const body = {
      cart_id: state.cart.id,
      email: form.elements.email.value.trim(),
      payment_token: form.elements.payment_token.value.trim(),
    };
    // The total the shopper was shown: if the cart prices differently now,
    // the edge answers 409 total_changed before any payment.
    const shown = state.cart.pricing && state.cart.pricing.totals;
    if (shown) body.expected_total_minor = shown.total_minor;
    // The same order asked for again after an unknown outcome is the same
    // attempt: its key makes the shop answer with the order it may have made.
    const same = state.pendingCheckout && JSON.stringify(state.pendingCheckout.body) === JSON.stringify(body);
    const attempt = same ? state.pendingCheckout : { key: uuid(), body };
    state.pendingCheckout = null;
    const submit = $('checkout-submit');
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    message(note, 'Placing your order…');
    try {
      for (let retry = 0; ; retry += 1) {
        try {
          const placed = await api('POST', '/api/v1/checkout', {
            body: attempt.body,
            headers: { 'Idempotency-Key': attempt.key },
            timeout: CHECKOUT_TIMEOUT_MS,
          });
          showConfirmation(placed);
          message(note, '');
          return;
        } catch (error) {
          const unknown = outcomeUnknown(error);
          if (unknown && retry < CHECKOUT_RETRIES) {
            await sleep(400 * 2 ** retry);
            continue;
          }
          if (unknown) state.pendingCheckout = attempt;
          await checkoutFailed(error);
          return;
        }
      }
    } finally {
      form.removeAttribute('aria-busy');
      submit.disabled = !state.cart || state.cart.lines.length === 0;
    }
  }

  async function checkoutFailed(error) {
    const note = $('checkout-message');
    note.dataset.code = error.code || (error instanceof NetworkError ? 'network' : 'unknown');
    if (error instanceof ApiError && error.code === 'price_changed') {
      message(note, 'Prices changed since your cart was priced. Your cart below shows the new total: check it and place the order again.', 'error');
      await cartTask(refreshCart).catch(() => {});
      note.dataset.code = 'price_changed';
      return;
    }
    if (error instanceof ApiError && error.code === 'payment_declined') {
      message(note, 'Your payment was declined, so nothing was charged. Try another payment method.', 'error');
      return;
    }
    if (error instanceof ApiError && error.code === 'payment_unavailable') {
      message(note, 'The payment provider is not answering right now. Your order was not placed and nothing was charged: please try again in a minute.', 'error');
      return;
    }
    if (error instanceof ApiError && error.code === 'total_changed') {
      message(note, 'Your cart\'s total changed since you saw it, so nothing was charged. Check the new total below and place the order again.', 'error');
      await cartTask(refreshCart).catch(() => {});
      note.dataset.code = 'total_changed';
      return;
    }
    if (outcomeUnknown(error)) {
      message(note, 'We could not hear back from the shop, so we do not know yet whether your order went through. Press “Place order” again: it is safe, you will not be charged twice.', 'error');
      return;
    }
    message(note, describe(error, 'placing your order'), 'error');
  }

  // Whether a checkout may have gone through without our hearing of it: the
  // network failed, a gateway gave up, or the edge authorized the payment
  // and could not reach the origin (order_not_confirmed). The same key again
  // is safe in each case.
  function outcomeUnknown(error) {
    return error instanceof NetworkError
      || (error instanceof ApiError && (error.status === 502 || error.status === 504 || error.code === 'order_not_confirmed'));
  }

  function showConfirmation(placed) {
    const order = placed.order || {};
    const payment = placed.payment || {};
    $('order-id').textContent = order.id || '';
    const status = $('order-status');
    status.textContent = String(order.status || '').replace(/_/g, ' ');
    status.dataset.status = order.status || '';
    $('order-payment').textContent = payment.provider
      ? `${payment.provider}: ${payment.status}${payment.reference ? ` (${payment.reference})` : ''}`
      : '—';
    if (order.total) setMoney($('order-total'), order.total.amount_minor, order.total.currency);
    show($('order-confirmation'), true);
    writeCartId(null);
    state.cart = null;
    renderCart();
  }

  // ── messages ────────────────────────────────────────────────────────────

  function describe(error, doing) {
    if (error instanceof NetworkError) return `Could not reach the shop while ${doing}: check your connection and try again.`;
    if (error instanceof ApiError) {
      if (error.status === 429) return 'Too many requests just now: wait a moment and try again.';
      if (error.code === 'insufficient_stock') return `Not enough stock: ${error.message}.`;
      return `Sorry, something went wrong while ${doing}: ${error.message}.`;
    }
    return `Sorry, something went wrong while ${doing}: ${error && error.message ? error.message : error}.`;
  }

  // ── start ───────────────────────────────────────────────────────────────

  async function start() {
    $('search-input').addEventListener('input', onSearchInput);
    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      runSearch($('search-input').value.trim());
    });
    $('sort-select').addEventListener('change', (event) => {
      state.sort = event.currentTarget.value;
      state.page = 1;
      loadResults();
    });
    $('page-prev').addEventListener('click', () => {
      state.page = Math.max(1, state.page - 1);
      loadResults();
    });
    $('page-next').addEventListener('click', () => {
      state.page += 1;
      loadResults();
    });
    $('coupon-form').addEventListener('submit', applyCoupon);
    $('account-form').addEventListener('submit', submitAccount);
    $('account-sign-out').addEventListener('click', signOut);
    renderAccount();
    $('checkout-form').addEventListener('submit', checkout);
    renderCart();

    cartTask(refreshCart).catch((error) => message($('cart-message'), describe(error, 'loading your cart'), 'error'));
    try {
      const tree = await api('GET', '/api/v1/categories');
      state.categories = tree.categories || [];
    } catch (error) {
      message($('listing-message'), describe(error, 'loading the departments'), 'error');
      $('listing-title').textContent = 'Vitrine DIY';
      return;
    }
    if (state.categories.length && !state.query) openCategory(state.categories[0]);
    else renderCategories();
    document.body.dataset.ready = 'yes';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
