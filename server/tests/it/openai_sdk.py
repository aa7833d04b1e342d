"""Drives Confab's OpenAI-compatible endpoint with the official `openai` package, unchanged.

Usage: python3 openai_sdk.py BASE_URL API_TOKEN
Prints one JSON line: the session id and what the SDK received.
"""
import json
import sys

import openai

base_url, token = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=token)

plain = client.chat.completions.with_raw_response.create(
    model="fake-model",
    messages=[{"role": "user", "content": "hello from python"}],
)
session_id = plain.headers["x-confab-session"]
completion = plain.parse()

stream = client.chat.completions.create(
    model="fake-model",
    messages=[
        {"role": "user", "content": "hello from python"},
        {"role": "assistant", "content": completion.choices[0].message.content},
        {"role": "user", "content": "stream this"},
    ],
    stream=True,
    stream_options={"include_usage": True},
    extra_headers={"X-Confab-Session": session_id},
)
streamed, usage = "", None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        streamed += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage.total_tokens

models = [model.id for model in client.models.list()]
print(json.dumps({
    "session": session_id,
    "plain": completion.choices[0].message.content,
    "plainTokens": completion.usage.total_tokens,
    "streamed": streamed,
    "streamUsage": usage,
    "models": models,
}))
