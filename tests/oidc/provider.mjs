// A real OpenID provider for the tests (the certified oidc-provider package), on loopback only.
//
// Configured from the environment, started by tests/oidc/fixtures.py:
//   OIDC_PORT            port on 127.0.0.1 (0 or unset: a free one, chosen by the system)
//   OIDC_CLIENT_ID       the one confidential client ...
//   OIDC_CLIENT_SECRET   ... its secret (client_secret_basic or client_secret_post)
//   OIDC_REDIRECT_URIS   its redirect URIs, separated by spaces
//   OIDC_ACCOUNTS        a JSON file: [{"sub", "email", "password", "email_verified", "name", ...}]
//                        every field but "password" is a claim (returned as its scope allows)
//   OIDC_KEY_ID          the signing key's "kid" (default: random); the key itself is new each run
//   OIDC_CLAIMS_IN_USERINFO_ONLY=1  the spec's strict mode: scope claims only from /me, not in
//                        the ID token (the default puts them in the ID token, as Entra ID does)
//
// Once listening it prints one line, `listening <issuer>`, on stdout. The issuer is
// http://127.0.0.1:PORT: oidc-provider accepts a plain-http issuer (its cookies are then not
// `Secure`, which is what loopback needs); only implicit-flow clients must have https redirect
// URIs, and the client here uses the code flow with PKCE.
//
// Login and consent are this file's own minimal pages (devInteractions are off): the login form
// checks the account's password; the consent page allows or denies.

import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URIS').split(/\s+/).filter(Boolean);
const accounts = JSON.parse(readFileSync(required('OIDC_ACCOUNTS'), 'utf8'));
const keyId = process.env.OIDC_KEY_ID || randomUUID();
const claimsInUserinfoOnly = process.env.OIDC_CLAIMS_IN_USERINFO_ONLY === '1';

const byEmail = new Map(accounts.map((a) => [String(a.email).toLowerCase(), a]));
const bySub = new Map(accounts.map((a) => [String(a.sub), a]));

// A new signing key each run: two providers never share one (the shipped quick-start keys are
// the same everywhere, which would let a token of one provider verify with another's JWKS).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: keyId, use: 'sig', alg: 'RS256' };

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>`
    + `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}

function loginPage(res, uid, error) {
  const message = error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : '';
  page(res, error ? 401 : 200, 'Sign in to the test provider', `${message}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" id="login">
  <label for="email">Email address</label> <input id="email" name="email" type="email" autocomplete="username">
  <label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
  <button type="submit">Sign in</button>
</form>`);
}

function consentPage(res, uid, client, scopes) {
  page(res, 200, 'Allow access', `
<p>${escapeHtml(client)} asks for: ${escapeHtml(scopes.join(', '))}</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm" id="consent"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort" id="deny"><button type="submit">Deny</button></form>`);
}

async function formBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 10_000) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function passwordMatches(account, password) {
  const expected = Buffer.from(String(account?.password ?? ''));
  const given = Buffer.from(String(password ?? ''));
  return account !== undefined && expected.length === given.length && timingSafeEqual(expected, given);
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, 'This sign-in page has expired', '<p>Start again from the service.</p>');
    return;
  }
  const { prompt, params, session, grantId } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      loginPage(res, uid);
    } else {
      const scopes = prompt.details.missingOIDCScope ?? String(params.scope).split(' ');
      consentPage(res, uid, params.client_id, scopes);
    }
    return;
  }
  if (req.method !== 'POST') {
    page(res, 405, 'Method not allowed', '');
    return;
  }
  const form = await formBody(req);

  if (action === 'login' && prompt.name === 'login') {
    const account = byEmail.get(String(form.get('email') ?? '').toLowerCase());
    if (!passwordMatches(account, form.get('password'))) {
      loginPage(res, uid, 'Wrong email address or password');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: String(account.sub) } }, {
      mergeWithLastSubmission: false,
    });
  } else if (action === 'confirm' && prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
      mergeWithLastSubmission: true,
    });
  } else if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  } else {
    page(res, 400, 'This sign-in page has expired', '<p>Start again from the service.</p>');
  }
}

const server = http.createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    pkce: { methods: ['S256'], required: () => true },
    claims: {
      openid: ['sub', 'tid'],
      email: ['email', 'email_verified', 'xms_edov'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: claimsInUserinfoOnly,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(ctx, sub) {
      const account = bySub.get(String(sub));
      if (!account) return undefined;
      return {
        accountId: String(sub),
        async claims() {
          const { password, ...claims } = account; // eslint-disable-line no-unused-vars
          return { ...claims, sub: String(sub) };
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head>`
        + `<body><h1>Error</h1>${Object.entries(out).map(([k, v]) => `<p>${escapeHtml(k)}: ${escapeHtml(v)}</p>`).join('')}</body></html>`;
    },
  });
  const callback = provider.callback();

  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/.exec(pathname);
    if (!match) {
      callback(req, res);
      return;
    }
    interaction(provider, req, res, match[1], match[2]).catch((err) => {
      // An unknown or expired interaction (no cookie, replayed form) is the user's problem, not a crash.
      if (!res.headersSent) page(res, 400, 'This sign-in page has expired', `<p>${escapeHtml(err.message)}</p>`);
    });
  });
  console.log(`listening ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
