-- Demo database for examples/docker-compose.yml (runs once, on the first start of an
-- empty PostgreSQL volume, as the superuser). A small table and a read-only role for
-- the connector. The password is for local trials only; it is also in
-- compose-db-password.txt, which the connector reads as a Docker secret file.
CREATE TABLE service_requests (
    request_id  integer PRIMARY KEY,
    district    text NOT NULL,
    category    text NOT NULL,
    opened_at   timestamp NOT NULL,
    closed_at   timestamp,
    status      text NOT NULL,
    priority    smallint NOT NULL,
    cost_eur    numeric(10, 2)
);

INSERT INTO service_requests (request_id, district, category, opened_at, closed_at, status, priority, cost_eur) VALUES
    (1001, 'Altstadt', 'Streetlight', '2026-01-03 08:12:00', '2026-01-05 16:40:00', 'closed', 2, 120.50),
    (1002, 'Nordviertel', 'Pothole', '2026-01-03 09:30:00', '2026-01-10 11:00:00', 'closed', 1, 845.00),
    (1003, 'Südstadt', 'Graffiti', '2026-01-04 14:05:00', NULL, 'open', 3, NULL),
    (1004, 'Altstadt', 'Waste', '2026-01-04 17:22:00', '2026-01-04 19:10:00', 'closed', 2, 60.00),
    (1005, 'Weststadt', 'Playground', '2026-01-05 10:00:00', '2026-01-12 09:15:00', 'closed', 2, 1310.75),
    (1006, 'Nordviertel', 'Streetlight', '2026-01-06 07:45:00', NULL, 'in_progress', 1, NULL),
    (1007, 'Oststadt', 'Tree', '2026-01-06 12:30:00', '2026-01-08 15:00:00', 'closed', 2, 420.00),
    (1008, 'Südstadt', 'Pothole', '2026-01-07 08:00:00', '2026-01-09 13:20:00', 'closed', 1, 910.40),
    (1009, 'Weststadt', 'Noise', '2026-01-07 22:10:00', '2026-01-08 08:00:00', 'closed', 3, 0.00),
    (1010, 'Altstadt', 'Graffiti', '2026-01-08 11:11:00', NULL, 'open', 3, NULL),
    (1011, 'Oststadt', 'Waste', '2026-01-09 06:50:00', '2026-01-09 10:05:00', 'closed', 2, 75.20),
    (1012, 'Nordviertel', 'Tree', '2026-01-10 15:35:00', NULL, 'in_progress', 2, NULL);

-- The connector only reads: a role with SELECT and nothing else.
CREATE ROLE connector_reader LOGIN PASSWORD 'demo-only-change-me';
GRANT CONNECT ON DATABASE city TO connector_reader;
GRANT USAGE ON SCHEMA public TO connector_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO connector_reader;
