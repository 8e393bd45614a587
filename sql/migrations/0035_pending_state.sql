-- A task state for dependencies: pending, a task waiting for the tasks it depends on to end
-- (sql/schema/20_dependencies.sql). A value added to an enum cannot be used in the
-- transaction that adds it, so it comes in a migration of its own, before 0036 uses it.
ALTER TYPE pgtq.task_state ADD VALUE 'pending' BEFORE 'queued';
