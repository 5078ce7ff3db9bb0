"""Verbatim ``codex exec --json`` lines from the Codex CLI 0.169.0 notes (happy path, apply_patch),
shared by the event, reducer and log-render tests."""

HAPPY_PATH = [
    '{"type":"thread.started","thread_id":"01a20a5f-decb-7541-abf5-b79e7c24b02c"}',
    '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for '
    "`mock-model` not found. Defaulting to fallback metadata; this can degrade performance and cause "
    'issues."}}',
    '{"type":"turn.started"}',
    '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Creating hello.txt"}}',
    '{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc '
    '\'echo hi > hello.txt\'","aggregated_output":"","exit_code":null,"status":"in_progress"}}',
    '{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc '
    '\'echo hi > hello.txt\'","aggregated_output":"","exit_code":0,"status":"completed"}}',
    '{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"done"}}',
    '{"type":"turn.completed","usage":{"input_tokens":1334,"cached_input_tokens":1000,'
    '"cache_write_input_tokens":0,"output_tokens":76,"reasoning_output_tokens":7}}',
]

APPLY_PATCH = [
    '{"type":"thread.started","thread_id":"01a20a5a-4945-7033-82b5-3c8c38240b78"}',
    '{"type":"turn.started"}',
    '{"type":"item.started","item":{"id":"item_0","type":"file_change","changes":[{"path":'
    '"<workdir>/notes.md","kind":"add"}],"status":"in_progress"}}',
    '{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":'
    '"<workdir>/notes.md","kind":"add"}],"status":"completed"}}',
    '{"type":"item.started","item":{"id":"item_1","type":"file_change","changes":[{"path":'
    '"<workdir>/notes.md","kind":"update"}],"status":"in_progress"}}',
    '{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":'
    '"<workdir>/notes.md","kind":"update"}],"status":"completed"}}',
    '{"type":"item.completed","item":{"id":"item_2","type":"reasoning","text":"**Checking** the file"}}',
    '{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"done patching"}}',
    '{"type":"turn.completed","usage":{"input_tokens":300,"cached_input_tokens":0,'
    '"cache_write_input_tokens":0,"output_tokens":60,"reasoning_output_tokens":0}}',
]
