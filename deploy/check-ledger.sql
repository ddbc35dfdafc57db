-- After a restore (or at any time): users whose cached balance differs from their ledger
-- entries. No rows means the ledger is consistent. Read-only.
--     docker compose -f deploy/docker-compose.yml exec -T postgres \
--         psql -U kiebot -d kiebot < deploy/check-ledger.sql
SELECT coalesce(b.user_id, s.user_id) AS user_id,
       b.available AS cached_available, s.available AS ledger_available,
       b.held AS cached_held, s.held AS ledger_held,
       b.debt AS cached_debt, s.debt AS ledger_debt
FROM ledger_balances AS b
FULL JOIN (
    SELECT t.user_id,
           coalesce(sum(e.amount) FILTER (WHERE e.account = 'available'), 0) AS available,
           coalesce(sum(e.amount) FILTER (WHERE e.account = 'held'), 0) AS held,
           -- A shortfall is booked as a negative entry on the debt account.
           -coalesce(sum(e.amount) FILTER (WHERE e.account = 'debt'), 0) AS debt
    FROM ledger_entries AS e
    JOIN ledger_transactions AS t ON t.id = e.transaction_id
    GROUP BY t.user_id
) AS s ON s.user_id = b.user_id
WHERE (coalesce(b.available, 0), coalesce(b.held, 0), coalesce(b.debt, 0))
    IS DISTINCT FROM (coalesce(s.available, 0), coalesce(s.held, 0), coalesce(s.debt, 0))
ORDER BY 1;
