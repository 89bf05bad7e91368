-- A message row is updated three times (claimed, sent, final status) and a
-- segment once (its receipt), none of them touching an indexed column. With
-- full pages every update was a new row version in another page plus an
-- entry in each index (3 on messages); with room left on the page (half of
-- it: 70 % left a third of the updates still leaving the page) it is a
-- HOT update: same page, no index entry, and the old version is pruned by
-- the next reader of the page, without waiting for VACUUM.
ALTER TABLE messages SET (fillfactor = 50);
ALTER TABLE message_segments SET (fillfactor = 50);
