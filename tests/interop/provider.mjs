// panva's oidc-provider (a certified OpenID Provider), configured to behave like Auth0 where it
// matters to oidc-login, for the interop and browser tests. Loopback only.
//
// Environment:
//   PORT                       port on 127.0.0.1; 0 (default) picks a free one. The issuer is
//                              http://127.0.0.1:<port>, printed as one JSON line on stdout:
//                              {"ready": true, "issuer": "...", "port": N}
//   CLIENT_ID, CLIENT_SECRET   the registered confidential client (defaults: interop-client / random)
//   TOKEN_ENDPOINT_AUTH_METHOD client_secret_basic (default) or client_secret_post
//   REDIRECT_URI               comma list of allowed redirect URIs (required)
//   POST_LOGOUT_REDIRECT_URI   comma list of allowed post-logout redirect URIs (optional)
//   AUDIENCE                   the API identifier (an absolute URI). An authorization request with
//                              `audience=<AUDIENCE>` gets RS256 JWT access tokens with that `aud`
//                              (Auth0 behaviour); without it access tokens are opaque. Unset: any
//                              absolute-URI audience is accepted.
//   ACCESS_TOKEN_TTL           seconds (default 3600); ID_TOKEN_TTL (3600); REFRESH_TOKEN_TTL (86400)
//   ROTATE_REFRESH_TOKEN       true (default): every refresh rotates the refresh token
//   USER_LOGIN, USER_PASSWORD  the one account's credentials (alice / alice-password)
//   ACCOUNT_SUB, ACCOUNT_EMAIL, ACCOUNT_NAME, ACCOUNT_ROLES (comma list)
//                              its claims (auth0|alice, alice@example.test, Alice Interop, user)
//   FORCE_CONSENT_FOR_OFFLINE  true (default): add prompt=consent to authorization requests asking
//                              for offline_access, otherwise oidc-provider drops that scope.
//   DEBUG_PROVIDER             true: log each request line to stderr.
//   BACKCHANNEL_LOGOUT_URI     registers the client's back-channel logout URI and turns the
//                              backchannelLogout feature on; its outgoing requests may then reach
//                              loopback (the SSRF guard is lifted for 127.0.0.1/::1/localhost only).
//   BACKCHANNEL_LOGOUT_SESSION_REQUIRED  true (default): logout tokens carry `sid`; false: `sub` only
//   REVOCATION                 true: the RFC 7009 revocation endpoint (features.revocation)
//   EXTRA_ACCOUNTS             JSON list of more accounts {login, password, sub, email, name, roles}
//   EXPOSE_TOKENS              true: print every successful token response as one JSON line
//                              {"token_response": {...}} on stdout, so tests can check that no
//                              issued token ever reaches the browser. Test use only.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const bool = (v, dflt) => (v === undefined || v === '' ? dflt : /^(1|true|yes|on)$/i.test(v));
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);
const int = (v, dflt) => {
  if (v === undefined || v === '') return dflt;
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive integer: ${v}`);
  return n;
};

const HOST = '127.0.0.1';
const CLIENT_ID = env.CLIENT_ID || 'interop-client';
const CLIENT_SECRET = env.CLIENT_SECRET || crypto.randomBytes(24).toString('base64url');
const AUTH_METHOD = env.TOKEN_ENDPOINT_AUTH_METHOD || 'client_secret_basic';
const REDIRECT_URIS = list(env.REDIRECT_URI);
const POST_LOGOUT_REDIRECT_URIS = list(env.POST_LOGOUT_REDIRECT_URI);
const AUDIENCE = env.AUDIENCE || '';
const ACCESS_TOKEN_TTL = int(env.ACCESS_TOKEN_TTL, 3600);
const ID_TOKEN_TTL = int(env.ID_TOKEN_TTL, 3600);
const REFRESH_TOKEN_TTL = int(env.REFRESH_TOKEN_TTL, 86400);
const ROTATE_REFRESH_TOKEN = bool(env.ROTATE_REFRESH_TOKEN, true);
const FORCE_CONSENT_FOR_OFFLINE = bool(env.FORCE_CONSENT_FOR_OFFLINE, true);
const DEBUG = bool(env.DEBUG_PROVIDER, false);
const EXPOSE_TOKENS = bool(env.EXPOSE_TOKENS, false);

const BACKCHANNEL_LOGOUT_URI = env.BACKCHANNEL_LOGOUT_URI || '';
const BACKCHANNEL_SESSION_REQUIRED = bool(env.BACKCHANNEL_LOGOUT_SESSION_REQUIRED, true);
const REVOCATION = bool(env.REVOCATION, false);
const EXTRA_ACCOUNTS = env.EXTRA_ACCOUNTS ? JSON.parse(env.EXTRA_ACCOUNTS) : [];

const USER = {
  login: env.USER_LOGIN || 'alice',
  password: env.USER_PASSWORD || 'alice-password',
  sub: env.ACCOUNT_SUB || 'auth0|alice',
  email: env.ACCOUNT_EMAIL || 'alice@example.test',
  name: env.ACCOUNT_NAME || 'Alice Interop',
  roles: env.ACCOUNT_ROLES !== undefined ? list(env.ACCOUNT_ROLES) : ['user'],
};

const USERS = [USER, ...EXTRA_ACCOUNTS.map((a) => ({ roles: ['user'], ...a }))];
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

if (!REDIRECT_URIS.length) {
  console.error('provider.mjs: REDIRECT_URI is required');
  process.exit(2);
}

const html = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

// Self-contained pages: no external fonts or scripts (the test network is loopback only).
const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
    background:#eef0f3;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1e212a}
  .card{width:380px;background:#fff;border-radius:8px;box-shadow:0 12px 40px rgba(0,0,0,.12);padding:40px}
  .brand{font-size:13px;letter-spacing:.08em;text-transform:uppercase;color:#635dff;font-weight:600}
  h1{font-size:22px;margin:8px 0 20px}
  label{display:block;font-size:13px;color:#555;margin:12px 0 4px}
  input[type=text],input[type=password]{width:100%;padding:11px 12px;border:1px solid #c9cace;border-radius:4px;font-size:15px}
  button{width:100%;margin-top:20px;padding:12px;border:0;border-radius:4px;background:#635dff;color:#fff;font-size:15px;cursor:pointer}
  button.secondary{background:#fff;color:#1e212a;border:1px solid #c9cace;margin-top:10px}
  .error{background:#fdecea;color:#a61b1b;padding:10px 12px;border-radius:4px;margin-bottom:8px}
  ul{padding-left:20px} .muted{color:#6f727a;font-size:13px}`;

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)} · oidc-provider (interop)</title><style>${STYLE}</style></head>
<body><main class="card"><div class="brand">oidc-provider · interop test IdP</div>${body}</main></body></html>`;
}

const AVATAR_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="32" fill="#635dff"/><text x="32" y="42" font-size="28" text-anchor="middle"
fill="#fff" font-family="sans-serif">${html(USER.name.slice(0, 1).toUpperCase())}</text></svg>`;

function privateJwk() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `interop-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 65536) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function loginPage(uid, error, login = '') {
  return page('Sign in', `<h1>Log in to continue</h1>
${error ? `<div class="error" role="alert">${html(error)}</div>` : ''}
<form method="post" action="/interaction/${html(uid)}/login" autocomplete="off">
  <label for="login">Username</label>
  <input id="login" name="login" type="text" value="${html(login)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button type="submit" id="submit-login">Continue</button>
</form>
<p class="muted">Test account: <code>${html(USER.login)}</code> / <code>${html(USER.password)}</code></p>`);
}

function consentPage(uid, details, clientName) {
  const scopes = [...new Set([
    ...(details.missingOIDCScope || []),
    ...Object.values(details.missingResourceScopes || {}).flat(),
  ])];
  const resources = Object.keys(details.missingResourceScopes || {});
  return page('Authorize', `<h1>Authorize ${html(clientName)}</h1>
<p>${html(clientName)} is requesting access to your account.</p>
${scopes.length ? `<ul>${scopes.map((s) => `<li>${html(s)}</li>`).join('')}</ul>` : ''}
${resources.length ? `<p class="muted">API: ${resources.map(html).join(', ')}</p>` : ''}
<form method="post" action="/interaction/${html(uid)}/confirm">
  <button type="submit" id="submit-consent" name="decision" value="accept">Accept</button>
</form>
<form method="post" action="/interaction/${html(uid)}/abort">
  <button type="submit" class="secondary" name="decision" value="decline">Decline</button>
</form>`);
}

async function main() {
  // Listen first so that PORT=0 works: the issuer must carry the real port.
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number.parseInt(env.PORT || '0', 10), HOST, resolve);
  });
  const { port } = server.address();
  const ISSUER = `http://${HOST}:${port}`;

  const accountOf = (user) => ({
    accountId: user.sub,
    async claims() {
      return {
        sub: user.sub,
        email: user.email,
        email_verified: true,
        name: user.name,
        nickname: user.login,
        picture: `${ISSUER}/avatar.svg`,
        roles: user.roles,
      };
    },
  });

  const configuration = {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      client_name: 'oidc-login (interop)',
      redirect_uris: REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: AUTH_METHOD,
      id_token_signed_response_alg: 'RS256',
      ...(BACKCHANNEL_LOGOUT_URI ? {
        backchannel_logout_uri: BACKCHANNEL_LOGOUT_URI,
        backchannel_logout_session_required: BACKCHANNEL_SESSION_REQUIRED,
      } : {}),
    }],
    // Test configuration only: let back-channel calls reach the login server on loopback; every
    // other destination keeps oidc-provider's SSRF guard (its dispatcher).
    fetch: (url, options) => {
      if (LOOPBACK.has(new URL(url).hostname)) delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
    jwks: { keys: [privateJwk()] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      openid: ['sub', 'roles'],
      profile: ['name', 'nickname', 'picture'],
      email: ['email', 'email_verified'],
    },
    // Auth0 puts the profile claims in the ID token; oidc-provider would keep them for userinfo.
    conformIdTokenClaims: false,
    clockTolerance: 0,
    responseTypes: ['code'],
    pkce: { required: () => true },
    extraParams: ['audience'],
    rotateRefreshToken: () => ROTATE_REFRESH_TOKEN,
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      IdToken: ID_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 86400,
      Grant: 86400,
    },
    findAccount: async (_ctx, id) => {
      const user = USERS.find((u) => u.sub === id);
      return user ? accountOf(user) : undefined;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: Boolean(BACKCHANNEL_LOGOUT_URI) },
      revocation: { enabled: REVOCATION },
      rpInitiatedLogout: {
        enabled: true,
        // Auth0's /v2/logout (and /oidc/logout) do not ask "are you sure?": submit at once.
        async logoutSource(ctx, form) {
          const auto = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = page('Signing out', `<h1>Signing out…</h1>${auto}
<button type="submit" form="op.logoutForm">Continue</button>
<script>document.getElementById('op.logoutForm').submit()</script>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<h1>You are signed out</h1>');
        },
      },
      resourceIndicators: {
        enabled: true,
        // Auth0's `audience` parameter is the resource indicator.
        defaultResource: async (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          return ctx.oidc.params?.audience || undefined;
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (AUDIENCE && resourceIndicator !== AUDIENCE) {
            throw new errors.InvalidTarget(`unknown audience ${resourceIndicator}`);
          }
          return {
            scope: 'read:messages',
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Something went wrong</h1><div class="error" role="alert">${
        Object.entries(out).map(([k, v]) => `<div><strong>${html(k)}</strong>: ${html(v)}</div>`).join('')
      }</div>`);
    },
  };

  const provider = new Provider(ISSUER, configuration);
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  provider.on('backchannel.error', (_ctx, err) => console.error('backchannel.error', err.message));
  provider.on('backchannel.success', () => console.error('backchannel.success'));

  if (FORCE_CONSENT_FOR_OFFLINE) {
    // oidc-provider drops offline_access unless the request carries prompt=consent.
    provider.use(async (ctx, next) => {
      if (ctx.method === 'GET' && ctx.path === '/auth') {
        const q = new URLSearchParams(ctx.querystring);
        const scope = (q.get('scope') || '').split(' ');
        const prompt = (q.get('prompt') || '').split(' ').filter(Boolean);
        if (scope.includes('offline_access') && !prompt.includes('consent') && !prompt.includes('none')) {
          prompt.push('consent');
          q.set('prompt', prompt.join(' '));
          ctx.querystring = q.toString();
        }
      }
      await next();
    });
  }

  if (EXPOSE_TOKENS) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        console.log(JSON.stringify({ token_response: ctx.body }));
      }
    });
  }

  const callback = provider.callback();

  async function interactions(req, res, url) {
    const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
    if (!m) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
    const [, uid, action] = m;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, page('Error', '<h1>Interaction mismatch</h1>'));
    const { prompt, params, session } = details;
    const client = await provider.Client.find(params.client_id);
    const clientName = client?.clientName || params.client_id;

    if (req.method === 'GET' && !action) {
      if (prompt.name === 'login') return send(res, 200, loginPage(uid));
      if (prompt.name === 'consent') return send(res, 200, consentPage(uid, prompt.details, clientName));
      return send(res, 400, page('Error', `<h1>Unsupported prompt ${html(prompt.name)}</h1>`));
    }
    if (req.method !== 'POST') return send(res, 405, page('Error', '<h1>Method not allowed</h1>'));
    const body = await readBody(req);

    if (action === 'login') {
      const login = body.get('login') || '';
      const user = USERS.find((u) => u.login === login);
      if (!user || body.get('password') !== user.password) {
        return send(res, 200, loginPage(uid, 'Wrong username or password.', login));
      }
      return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
        mergeWithLastSubmission: false,
      });
    }
    if (action === 'confirm') {
      if (prompt.name !== 'consent') return send(res, 400, page('Error', '<h1>Nothing to consent to</h1>'));
      const { details: d } = prompt;
      let { grantId } = details;
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      if (d.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    // abort
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url, ISSUER);
    if (DEBUG) console.error(`${req.method} ${url.pathname}`);
    if (url.pathname === '/avatar.svg') return send(res, 200, AVATAR_SVG, 'image/svg+xml');
    if (url.pathname.startsWith('/interaction/')) {
      return interactions(req, res, url).catch((err) => {
        console.error('interaction error', err);
        if (!res.headersSent) send(res, 400, page('Error', `<h1>${html(err.name || 'Error')}</h1><p>${html(err.message)}</p>`));
      });
    }
    return callback(req, res);
  });

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(JSON.stringify({ ready: true, issuer: ISSUER, port }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
