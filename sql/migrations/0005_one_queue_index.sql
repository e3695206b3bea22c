-- 0005: one index over each endpoint's deliveries, (endpoint_id, status, id), in place of the
-- queue's partial index (endpoint_id, id) WHERE pending and the plain (endpoint_id).
--
-- With the two, a queue read for an endpoint the planner's statistics did not know yet (a new
-- endpoint whose backlog arrived after the last ANALYZE, estimated at one row) could be planned
-- on (endpoint_id) with every pending row fetched and sorted: a page of a 200,000-delivery
-- backlog took 0.9 s instead of a millisecond. With one index that leads with the endpoint,
-- every plan of a queue read is the range it needs, in queue order, whatever the statistics; a
-- deleted endpoint's rows (its foreign key) are found by the same index; and the fan-out writes
-- one index entry fewer per delivery.
DROP INDEX notification_deliveries_queue;
DROP INDEX notification_deliveries_endpoint;
CREATE INDEX notification_deliveries_queue ON notification_deliveries (endpoint_id, status, id);
