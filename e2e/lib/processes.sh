# Starting, checking and stopping the processes `e2e/cluster` owns. Each one is recorded in
# $STATE/pids/<name> as "<pid> <start time>" (the kernel's start time in clock ticks, which survives
# exec but not pid reuse), so `down` stops exactly what `up` started and never a process that merely
# reused a recorded pid. Requires common.sh.

PIDS="$STATE/pids"
LOGS="$STATE/logs"

# Prints a process's start time from /proc/<pid>/stat (field 22; the fields after the command name,
# which may contain spaces, are counted from its closing parenthesis).
process_start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	awk '{ print $20 }' <<<"$stat"
}

# True when the recorded process is alive and is still the process that was started.
process_running() {
	local record="$PIDS/$1" pid started
	[[ -s $record ]] || return 1
	read -r pid started <"$record"
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	[[ "$(process_start_time "$pid")" == "$started" ]]
}

# Starts a process in its own session (so an interrupted shell does not take it down) unless it runs.
# Arguments: name, executable, arguments...
start_process() {
	local name=$1 executable=$2
	shift 2
	process_running "$name" && return 0
	mkdir -p "$PIDS" "$LOGS"
	# fd 9 is the lock of e2e/cluster: a daemon that inherited it would hold the lock for its lifetime.
	setsid "$executable" "$@" >"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
	local pid=$!
	echo "$pid $(process_start_time "$pid")" >"$PIDS/$name"
}

# Stops one recorded process: SIGTERM, up to 15 seconds of grace, then SIGKILL.
stop_process() {
	local name=$1 pid
	if process_running "$name"; then
		read -r pid _ <"$PIDS/$name"
		kill -TERM "$pid" 2>/dev/null || true
		local waited=0
		while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do
			sleep 0.1
			waited=$((waited + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) ignored SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$PIDS/$name"
}

# Polls a command until it succeeds; on timeout shows the end of the component's log and fails.
# Arguments: seconds, component name (for the log), command...
wait_until() {
	local seconds=$1 name=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "$name did not become ready within ${seconds}s; last lines of $LOGS/$name.log:"
			tail -n 25 "$LOGS/$name.log" >&2 2>/dev/null || true
			die "$name is not ready (full log: $LOGS/$name.log)"
		fi
		if [[ -s $PIDS/$name ]] && ! process_running "$name"; then
			log "$name exited; last lines of $LOGS/$name.log:"
			tail -n 25 "$LOGS/$name.log" >&2 2>/dev/null || true
			die "$name exited during start-up (full log: $LOGS/$name.log)"
		fi
		sleep 0.3
	done
}
