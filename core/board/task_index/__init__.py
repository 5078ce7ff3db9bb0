"""The task index: ``task-index.jsonl`` in the board, an append-only journal of task summaries that lets
every list of tasks follow the board without opening, or even stat-ing, each task's ``state.json``.

**Format.** One JSON object per line. The first line is a header, ``{"index": 1, "generation": "<hex>",
"complete": true}``; every other line is a task's whole :class:`~cockpit.core.board.task_summary.TaskSummary`
(an upsert: the last line for an id wins) or a removal, ``{"gone": "archived", "id": "<id>"}``. A
summary's line ends with the *stamp* of the ``state.json`` it was made from, ``"stamp": [inode,
mtime_ns, size]`` (optional: lines written before stamps existed have none, and readers of summaries
ignore it). A *complete* journal (written by a rebuild) names every live task; one that an append had
to create (the file was missing) is not complete: it holds only what was appended since.

**Writing.** :meth:`Blackboard.write_state` replaces ``state.json`` atomically and then appends the
task's summary with the new file's stamp (taken from the written file before its rename: no later
``stat`` can see another file); :meth:`Blackboard.forget_task` appends a removal once the task's
directory left ``tasks/``. An append is one ``write`` on an ``O_APPEND`` descriptor under an exclusive
``flock`` of the journal; with the lock taken, the writer checks that the path still names the file it
locked (a rebuild may have replaced it meanwhile) and opens it again if not. A journal that does not end
in a newline (a line torn by a crash) gets one first, so a record is never glued onto the fragment,
which stays behind as one invalid line. An append that fails (a full disk) removes the journal and never
fails the state write: the state file is the truth, and without a journal every reader rescans.

**Rebuilding.** A new board starts with an empty, complete journal (``Blackboard.init``). After that only
the holder of the board's supervisor lock rebuilds (a command without it never does). At start-up the
supervisor brings the journal up to date (:func:`~cockpit.core.board.task_index.startup.start_up`): it
reads the journal, lists ``tasks/``, takes one ``stat`` per ``state.json``, keeps the last line of every
task whose stamp is its file's, and reads in full only the others (a stamp that differs or is missing, a
task the journal does not name) and the tasks it acts on (their full states are what it keeps in memory).
When anything was behind (or a task's directory vanished) it rewrites the journal whole; when every line
was current it leaves the journal as it is, so no reader loads it again for nothing. With no journal to
trust (missing, not complete, an invalid line) it reads every state file and rewrites it. It compacts
when the journal grew past twice the live tasks plus
:data:`~cockpit.core.board.task_index.writer.COMPACT_SLACK` lines, held a torn line, or had to be created
by an append; a compaction keeps each line as it was, stamp included. A rebuild writes a new file with a
new generation under the journal's ``flock`` and renames it over the old one. Nothing here is fsynced:
the journal is derived, and one a power cut left short or torn is either behind (its stamps no longer
match: repaired by the next start-up) or not to be trusted (readers rescan).

**Reading.** :class:`~cockpit.core.board.task_index.reader.TaskIndexReader` loads the journal once
(last record per id wins); after that a poll is one ``os.stat``: the same file and size → nothing is
read; longer → only the new complete lines are read, through the project's one growing-file cursor
(:class:`~cockpit.core.follow.GrowingFile`: an incomplete last line stays on disk until its newline
arrives); another file (a rebuild) or a shorter one → the cursor starts again at byte 0 and the journal
is loaded again. A missing journal, one that is not complete, or an invalid line make the reader read
every ``tasks/*/state.json`` (the fallback that misses nothing) and then follow the journal from where it
had read to before the scan.

**Why it stays right when a writer dies at any point** (the state file is always the truth; a state
file changes only before its line is appended, and the lines of one task are appended in the order of
its writes):

- before ``state.json`` is replaced: nothing changed, and the journal says so.
- after ``state.json``, before the append: the journal shows that task's previous summary until the
  task is written again or the next supervisor starts. That start-up sees the stamp of the task's last
  line differ from its file's and reads the file.
- in the middle of the append: readers leave a last line without a newline alone; the next append
  closes it, readers then meet an invalid line and rescan, and the supervisor compacts it away.
- during a rebuild: the old journal stays whole until the rename (a leftover temp file is ignored),
  and appends wait on the lock and go to the new file; readers see a new file and load it.
- a scan misses nothing written while it runs: whatever a writer changes after the reader's offset
  is appended after that offset, and the reader follows from there once the scan is done.

**Why a matching stamp means the line is current.** A state file is only ever replaced by a new file
(written under a temporary name, then renamed), created while the file it replaces still exists: it
cannot have that file's inode, so it never carries the stamp of the file before it. A writer appends
each write's line before it writes the task again (the one writer is the lock holder, one write at a
time), so at most the last write of a task can lack its line. Hence when a task's ``state.json`` has
the stamp its last line carries, that line was made from this very file; when not, the file is read.
(A file edited by hand in place changes its modification time or size, so its stamp too; a stamp that
is missing or cannot be parsed counts as different.)

**Modules.** :mod:`.lines` (the line format, and reading lines in order), :mod:`.writer` (appends,
rebuilds, compaction), :mod:`.startup` (the lock holder's start-up), :mod:`.reader` (following the
journal), :mod:`.scan` (the fallback: every state file read), :mod:`.briefs` (what an archive sweep
chooses from).
"""
