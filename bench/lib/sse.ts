// A minimal Server-Sent Events reader over fetch (what the Python connector's pycti does with `requests`):
// one connection, frames yielded in order, read only as fast as the consumer takes them.

export interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

export async function* readSse(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): AsyncGenerator<SseFrame> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let frame: { id?: string; event?: string; data: string[] } = { data: [] };
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        if (line === '') {
          if (frame.data.length > 0 || frame.event) {
            yield {
              ...(frame.id !== undefined ? { id: frame.id } : {}),
              event: frame.event ?? 'message',
              data: frame.data.join('\n'),
            };
          }
          frame = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'id') frame.id = val;
        else if (field === 'event') frame.event = val;
        else if (field === 'data') frame.data.push(val);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
