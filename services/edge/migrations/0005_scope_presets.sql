-- Keys hold presets by name ('full', 'read-only', 'send-only'), resolved when a
-- request is checked, so they cover resources added after the key was issued.
-- Keys issued before held the presets' scopes of the time, written out: those
-- holding exactly such a set become the preset it was.
UPDATE api_keys SET scopes = ARRAY['full']
WHERE scopes @> ARRAY['messages:read', 'messages:write', 'webhooks:read', 'webhooks:write']
  AND scopes <@ ARRAY['messages:read', 'messages:write', 'webhooks:read', 'webhooks:write'];
UPDATE api_keys SET scopes = ARRAY['read-only']
WHERE scopes @> ARRAY['messages:read', 'webhooks:read']
  AND scopes <@ ARRAY['messages:read', 'webhooks:read'];
UPDATE api_keys SET scopes = ARRAY['send-only'] WHERE scopes = ARRAY['messages:write'];
ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT ARRAY['full'];
