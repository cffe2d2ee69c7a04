// Signing in. Locally (config.json {"auth": "token"}) the user pastes an API token; deployed
// ({"auth": "cognito", ...}) the Cognito hosted UI signs in with the OAuth 2.0 authorization
// code flow and PKCE (RFC 7636, S256). Either way the token lives in sessionStorage only:
// it is gone when the browser tab closes, and it never goes into a URL.

const TOKEN_KEY = "stepgraph.token";
const PKCE_KEY = "stepgraph.pkce";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

let signOutHandler = null;

/** Called with {reason} when the token is forgotten (sign-out, or a 401 from the API). */
export function onSignOut(handler) {
  signOutHandler = handler;
}

export function signOut({ reason = "" } = {}) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (signOutHandler) signOutHandler({ reason });
}

/** base64url without padding (RFC 7636 appendix A). */
export function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh code verifier: 32 random bytes, base64url (43 characters, RFC 7636 §4.1). */
export function newVerifier() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(ASCII(verifier))) (RFC 7636 §4.2). */
export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(digest);
}

/** The page's own address without query or fragment: the redirect URI registered in the app client. */
export function redirectUri(location = window.location) {
  return `${location.origin}${location.pathname}`;
}

/** The hosted UI's /oauth2/authorize URL for a code flow with PKCE. */
export function authorizeUrl(config, { challenge, state, redirect }) {
  const query = new URLSearchParams({
    response_type: "code", client_id: config.client_id, redirect_uri: redirect,
    scope: config.scopes, state, code_challenge: challenge, code_challenge_method: "S256",
  });
  return `${config.authorize_url}?${query}`;
}

/** Start the Cognito sign-in: remember verifier and state for this tab, go to the hosted UI. */
export async function startCognitoSignIn(config) {
  const verifier = newVerifier();
  const state = newVerifier();
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: window.location.hash }));
  const url = authorizeUrl(config, { challenge: await challengeOf(verifier), state, redirect: redirectUri() });
  window.location.assign(url);
}

/**
 * Finish a Cognito sign-in when the hosted UI sent the browser back with ?code=&state=.
 * Exchanges the code for tokens at /oauth2/token (with the verifier) and keeps the ID token,
 * which the API's Cognito authorizer checks. Returns true when a sign-in was finished.
 * Throws Error with the reason when the state does not match or the exchange fails.
 */
export async function finishCognitoSignIn(config, location = window.location) {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  window.history.replaceState(null, "", redirectUri(location) + ((saved && saved.hash) || ""));
  if (query.has("error")) throw new Error(`sign-in refused: ${query.get("error")} ${query.get("error_description") || ""}`.trim());
  if (!saved || saved.state !== query.get("state")) throw new Error("sign-in answer does not match this tab's request (state); sign in again");
  const response = await fetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config.client_id, code: query.get("code"),
      redirect_uri: redirectUri(location), code_verifier: saved.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) throw new Error(`token exchange failed: ${body.error || response.status}`);
  setToken(body.id_token);
  return true;
}

/** The hosted UI's /logout URL, back to the console. */
export function logoutUrl(config) {
  const query = new URLSearchParams({ client_id: config.client_id, logout_uri: redirectUri() });
  return `${config.logout_url}?${query}`;
}
