// The page's calls to the sandbox server (JSON only; the server refuses anything else).

export async function post(route, body) {
  const res = await fetch(`/api/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let json = {};
  try {
    json = await res.json();
  } catch {
    /* not JSON */
  }
  return { status: res.status, ...json };
}

export async function getState() {
  const res = await fetch('/api/state', { cache: 'no-store' });
  if (!res.ok) throw new Error(`state: HTTP ${res.status}`);
  return res.json();
}
