/**
 * The demo page: the client SDK in a browser. Sign in as a name, follow a job's progress,
 * see the other tabs' cursors on the slide. Query parameters for quick starts (and the
 * browser tests): `?user=Alice` signs in at once, `&job=J1` follows that job.
 */
import { connect, type ChannelMessage, type DocumentPresence, type JobUpdateData, type PresenceMember, type RealtimeClient } from '../../../client/index.ts';

/** Slide coordinates: cursors travel in these units, whatever each screen's size. */
const SLIDE = { width: 1600, height: 900 };

interface Session {
  userId: string;
  name: string;
  documentId: string;
}

interface DemoApi {
  client?: RealtimeClient;
  presence?: DocumentPresence;
  session?: Session;
  /** Follows a job (the progress bar and the log show it). */
  watchJob(jobId: string): void;
  /** Starts a simulated job on the server and follows it. */
  startJob(options?: { steps?: number; intervalMs?: number }): Promise<string>;
  /** Every job update shown, in the order shown. */
  updates: { jobId: string; offset: number; status: string; progress?: number }[];
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

let currentToken: string | undefined;
/** The newest token, for the demo's own HTTP calls. */
let latestToken: string | undefined;
let stopJob: (() => void) | undefined;
const demo: DemoApi = { watchJob, startJob, updates: [] };
(window as unknown as { demo: DemoApi }).demo = demo;

async function fetchToken(name: string): Promise<{ token: string } & Session> {
  const res = await fetch('/demo/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  if (!res.ok) throw new Error(`sign-in refused: ${String(res.status)} ${await res.text()}`);
  const body = (await res.json()) as { token: string } & Session;
  latestToken = body.token;
  return body;
}

async function signIn(name: string): Promise<void> {
  const first = await fetchToken(name);
  currentToken = first.token;
  const session: Session = { userId: first.userId, name: first.name, documentId: first.documentId };
  demo.session = session;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').textContent = `${session.name} (${session.userId})`;
  $('doc-name').textContent = session.documentId;

  const client = connect({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`,
    sseUrl: `${location.origin}/sse`,
    // Called again on every reconnect: a fresh token each time (the first one is used once).
    token: async () => {
      if (currentToken) {
        const t = currentToken;
        currentToken = undefined;
        return t;
      }
      return (await fetchToken(name)).token;
    },
  });
  demo.client = client;
  const badge = $('badge');
  const showState = (): void => {
    badge.dataset['state'] = client.state;
    badge.dataset['transport'] = client.transport ?? '';
    badge.textContent = `${client.transport ?? '—'} · ${client.state}`;
  };
  client.on('state', showState);
  showState();

  const presence = client.joinDocument(session.documentId);
  demo.presence = presence;
  const render = (): void => renderPresence(presence, session.userId);
  for (const event of ['join', 'leave', 'update', 'sync'] as const) presence.on(event, render);

  const slide = $('slide');
  slide.addEventListener('pointermove', (e) => {
    const rect = slide.getBoundingClientRect();
    presence.updateCursor({
      x: Math.round(((e.clientX - rect.left) / rect.width) * SLIDE.width),
      y: Math.round(((e.clientY - rect.top) / rect.height) * SLIDE.height),
    });
  });
  slide.addEventListener('pointerleave', () => presence.updateCursor(null));
  window.addEventListener('resize', render);

  $('start-job').addEventListener('click', () => void startJob());
  const job = new URLSearchParams(location.search).get('job');
  if (job) watchJob(job);
}

function renderPresence(presence: DocumentPresence, me: string): void {
  const list = $('members');
  list.replaceChildren(
    ...[...presence.members.values()].map((m) => {
      const li = document.createElement('li');
      li.dataset['userId'] = m.userId;
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.style.background = m.color;
      li.append(dot, `${m.name}${m.userId === me ? ' (you)' : ''}`);
      return li;
    }),
  );
  const slide = $('slide');
  const seen = new Set<string>();
  for (const m of presence.members.values()) {
    if (m.userId === me || !m.cursor) continue;
    seen.add(m.userId);
    placeCursor(slide, m);
  }
  for (const el of [...slide.querySelectorAll<HTMLElement>('.cursor')]) {
    if (!seen.has(el.dataset['userId'] ?? '')) el.remove();
  }
}

function placeCursor(slide: HTMLElement, member: PresenceMember): void {
  let el = slide.querySelector<HTMLElement>(`.cursor[data-user-id="${CSS.escape(member.userId)}"]`);
  if (!el) {
    el = document.createElement('div');
    el.className = 'cursor';
    el.dataset['userId'] = member.userId;
    el.innerHTML = `<svg width="18" height="22" viewBox="0 0 18 22"><path d="M1 1 L1 18 L6 13 L9.5 21 L12.5 19.7 L9 12 L16 12 Z" stroke="#fff" stroke-width="1.5"/></svg><span class="name"></span>`;
    slide.append(el);
  }
  const cursor = member.cursor;
  if (!cursor) return;
  el.querySelector('path')?.setAttribute('fill', member.color);
  const label = el.querySelector<HTMLElement>('.name');
  if (label) {
    label.textContent = member.name;
    label.style.background = member.color;
  }
  el.dataset['x'] = String(cursor.x);
  el.dataset['y'] = String(cursor.y);
  el.style.left = `${String((cursor.x / SLIDE.width) * 100)}%`;
  el.style.top = `${String((cursor.y / SLIDE.height) * 100)}%`;
}

function watchJob(jobId: string, onSubscribed?: () => void): void {
  const client = demo.client;
  if (!client) throw new Error('sign in first');
  stopJob?.();
  $('job-log').replaceChildren();
  showJob({ type: 'job.update', jobId, status: 'queued', progress: 0, timestamp: '' }, false);
  $('job-status').textContent = `${jobId}: waiting`;
  stopJob = client.onJob(
    jobId,
    (job: JobUpdateData, message: ChannelMessage) => {
      demo.updates.push({ jobId, offset: message.offset, status: job.status, ...(job.progress === undefined ? {} : { progress: job.progress }) });
      const li = document.createElement('li');
      li.dataset['offset'] = String(message.offset);
      li.dataset['status'] = job.status;
      li.dataset['progress'] = String(job.progress ?? '');
      li.textContent = `#${String(message.offset)} ${job.status} ${String(job.progress ?? '')}% ${job.message ?? ''}`;
      $('job-log').append(li);
      showJob(job, true);
    },
    {
      onSubscribed: () => onSubscribed?.(),
      onRecoveryFailed: () => ($('job-status').textContent = `${jobId}: some updates were lost; showing the latest`),
    },
  );
}

function showJob(job: JobUpdateData, received: boolean): void {
  const bar = $('job-progress');
  bar.dataset['status'] = received ? job.status : '';
  bar.dataset['progress'] = String(job.progress ?? 0);
  const inner = bar.querySelector<HTMLElement>('.bar');
  if (inner) inner.style.width = `${String(job.progress ?? 0)}%`;
  $('job-status').textContent = `${job.jobId}: ${job.status}`;
  $('job-percent').textContent = `${String(job.progress ?? 0)} %`;
}

async function startJob(options: { steps?: number; intervalMs?: number } = {}): Promise<string> {
  const client = demo.client;
  if (!client) throw new Error('sign in first');
  const button = $<HTMLButtonElement>('start-job');
  button.disabled = true;
  try {
    const jobId = `job-${Math.random().toString(36).slice(2, 10)}`;
    // Follow it first (until the server acknowledges), so every update is seen from the first.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      watchJob(jobId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const res = await fetch('/demo/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${latestToken ?? ''}` },
      body: JSON.stringify({ jobId, ...options }),
    });
    if (!res.ok) throw new Error(`job refused: ${String(res.status)}`);
    return jobId;
  } finally {
    button.disabled = false;
  }
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $<HTMLInputElement>('name').value.trim();
  if (name) void signIn(name).catch((error: unknown) => alert(String(error)));
});
const preset = new URLSearchParams(location.search).get('user');
if (preset) void signIn(preset);
