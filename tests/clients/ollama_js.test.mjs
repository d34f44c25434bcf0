// ollama-js (the npm `ollama` package) against a running `edgellm serve`.
// EDGELLM_URL: the server; EDGELLM_EXPECT: JSON {prompt: greedy answer} made
// with the Python client, so both libraries must see the same answers.
import { Ollama } from 'ollama'
import assert from 'node:assert/strict'
import { test } from 'node:test'

const host = process.env.EDGELLM_URL
const model = 'smollm2:135m'
const ollama = new Ollama({ host })
const greedy = { temperature: 0, num_predict: 16 }

test('generate, streamed and not, agree', async () => {
  const whole = await ollama.generate({ model, prompt: 'The capital of France is', raw: true, options: greedy })
  assert.equal(whole.done, true)
  assert.ok(whole.response.length > 0)
  let streamed = ''
  let last
  for await (const part of await ollama.generate({ model, prompt: 'The capital of France is', raw: true, options: greedy, stream: true })) {
    streamed += part.response
    last = part
  }
  assert.equal(streamed, whole.response)
  assert.equal(last.done, true)
  assert.equal(last.eval_count, whole.eval_count)
  const expect = JSON.parse(process.env.EDGELLM_EXPECT || '{}')
  if (expect['The capital of France is'] !== undefined) {
    assert.equal(whole.response, expect['The capital of France is'])
  }
})

test('chat with a system prompt streams the same text as non-streamed', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }]
  const whole = await ollama.chat({ model, messages, options: greedy })
  let streamed = ''
  for await (const part of await ollama.chat({ model, messages, options: greedy, stream: true })) {
    streamed += part.message.content
  }
  assert.equal(streamed, whole.message.content)
  assert.equal(whole.message.role, 'assistant')
})

test('list, show, ps, version', async () => {
  const list = await ollama.list()
  assert.ok(list.models.some((m) => m.name === model))
  const show = await ollama.show({ model })
  assert.equal(show.details.family, 'llama')
  const ps = await ollama.ps()
  assert.ok(ps.models.some((m) => m.name === model))
})

test('unknown model is a 404 with Ollama\'s error', async () => {
  await assert.rejects(ollama.generate({ model: 'no-such-model:1b', prompt: 'hi' }), (e) => {
    assert.equal(e.status_code, 404)
    assert.match(e.error, /not found/)
    return true
  })
})
