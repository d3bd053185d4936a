// REST helpers: the token grant of docs/protocol.md §3.1 and the {success:false,error} shape of §4.

const TOKEN_KEY = "ott.token";

export class ApiError extends Error {
  constructor(status, name, message) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

// Re-uses the stored token when the server still knows it, otherwise stores the new one.
export async function grantToken() {
  const stored = localStorage.getItem(TOKEN_KEY);
  const response = await fetch("/api/auth/grant", {
    headers: stored ? { Authorization: `Bearer ${stored}` } : {},
    cache: "no-store",
  });
  if (!response.ok) {
    throw new ApiError(response.status, "GrantFailed", `Could not get a session (HTTP ${response.status}).`);
  }
  const { token } = await response.json();
  localStorage.setItem(TOKEN_KEY, token);
  return token;
}

export async function api(token, method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Some answers (404 from the page routes, 429 from a proxy) have no JSON body.
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.name ?? "Error", error.message ?? `Request failed (HTTP ${response.status}).`);
  }
  return data;
}

export const roomPath = (name) => `/room/${encodeURIComponent(name)}`;
export const roomApi = (name) => `/api/room/${encodeURIComponent(name)}`;
