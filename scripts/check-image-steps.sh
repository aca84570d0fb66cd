#!/usr/bin/env bash
# Replays the Dockerfile's steps without a Docker engine, on a clean clone of the committed HEAD, and checks the result
# the way the image would be used.
#
# Each stage gets a directory standing in for its filesystem root. WORKDIR, COPY (from the build context, or --from an
# earlier stage), ENV and RUN (npm commands only) are carried out there in order, read from the Dockerfile itself, so
# the check follows the file. Then the final stage's CMD is started the way the container would start it: in its
# WORKDIR, with only its ENV (PORT moved to a free port, no GITLAB_URL: demo mode), as an unprivileged user when this
# runs as root and the stage has a non-root USER. Checked: /healthz answers 200, /readyz 200 within 30 s, GraphiQL's
# assets are served, a GraphQL query with the demo token returns data, the Dockerfile's HEALTHCHECK command exits 0
# (and non-zero once the gateway is gone), and SIGTERM ends the process with exit code 0.
#
# Usage: scripts/check-image-steps.sh [--ref REF | --worktree] [--keep]
#   --ref REF    the commit to test (default HEAD; env CHECK_IMAGE_REF)
#   --worktree   test the working tree as it is now (tracked and untracked files that git does not ignore) instead of
#                a commit (env CHECK_IMAGE_WORKTREE=1)
#   --keep       keep the temporary directory (its path is printed)
#
# Not the same as a real build: this machine's node and npm run the steps (not the image's), npm's cache here is used
# (installs prefer it), and instructions it cannot replay faithfully (ARG, ENTRYPOINT, SHELL, RUN other than npm, COPY
# from an image or with wildcards, ...) make it fail with a message rather than pass by guesswork.
set -euo pipefail

started=$SECONDS
step_started=$SECONDS
step() {
  printf '\n==> %s\n' "$*"
  step_started=$SECONDS
}
ok() { printf '    ok: %s\n' "$*"; }
note() { printf '    note: %s\n' "$*"; }
fail() {
  printf '\nFAIL: %s\n' "$*" >&2
  exit 1
}
elapsed() { printf '    (%ss)\n' "$((SECONDS - step_started))"; }

ref=${CHECK_IMAGE_REF:-HEAD}
worktree=${CHECK_IMAGE_WORKTREE:-0}
keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --ref) [[ $# -ge 2 ]] || fail "--ref needs a value"; ref=$2; shift 2 ;;
    --ref=*) ref=${1#--ref=}; shift ;;
    --worktree) worktree=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $worktree == 1 || $worktree == true ]] && worktree=1 || worktree=0

for tool in git node npm tar; do command -v "$tool" >/dev/null || fail "$tool is not on PATH"; done

# Whatever this was started from (npm run, vitest) must not leak into the replay: npm's per-run variables, NODE_ENV, ...
# npm's own settings for this machine (registry, cache, proxies) stay.
for name in $(compgen -e); do
  case $name in
    npm_config_registry | npm_config_cache | npm_config_userconfig | npm_config_globalconfig | npm_config_cafile | \
      npm_config_proxy | npm_config_https_proxy | npm_config_noproxy | npm_config_strict_ssl | \
      npm_config_prefer_offline | npm_config_prefer_online | npm_config_offline) ;;
    npm_* | NODE_ENV | NODE_OPTIONS | NODE_PATH | INIT_CWD | VITEST* | TSX_* | TS_NODE_*) unset "$name" ;;
  esac
done
export npm_config_prefer_offline=${npm_config_prefer_offline:-true} npm_config_update_notifier=false

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && git rev-parse --show-toplevel) || fail "not inside a git repository"

# A node_modules tree is written and then removed: on a memory-backed /dev/shm that takes seconds where a slow
# disk can take minutes. CHECK_IMAGE_TMPDIR chooses the place; otherwise /dev/shm when it has room and allows exec.
tmp_parent=${CHECK_IMAGE_TMPDIR:-}
if [[ -z $tmp_parent ]]; then
  tmp_parent=${TMPDIR:-/tmp}
  if [[ -d /dev/shm && -w /dev/shm ]] && [[ $(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }') -gt 3000000 ]]; then
    probe=$(mktemp /dev/shm/check-image-steps-probe.XXXXXX)
    printf '#!/bin/sh\nexit 0\n' >"$probe" && chmod +x "$probe" && "$probe" 2>/dev/null && tmp_parent=/dev/shm
    rm -f "$probe"
  fi
fi
work=$(mktemp -d "$tmp_parent/check-image-steps.XXXXXX")
chmod 755 "$work" # the runtime stage may run as an unprivileged user
server_pid=
cleanup() {
  local status=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [[ $keep == 1 ]]; then
    printf '\nkept: %s\n' "$work"
  else
    printf '\n==> Cleanup: removing %s\n' "$work"
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The build context: the committed tree (or the working tree) -------------------------------------------------
context=$work/context
if [[ $worktree == 1 ]]; then
  step "Context: the working tree of $repo (tracked and untracked files git does not ignore)"
  mkdir -p "$context"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do [[ -e $repo/$f || -L $repo/$f ]] && printf '%s\0' "$f"; done |
    tar -C "$repo" --null -T - -cf - | tar -C "$context" -xf -
  ok "$(find "$context" -type f | wc -l) files copied"
else
  sha=$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}") || fail "no commit $ref in $repo"
  step "Context: a clean clone of $repo at $ref ($(git -C "$repo" log -1 --format='%h %s' "$sha"))"
  git clone --quiet --no-checkout "$repo" "$context"
  git -C "$context" cat-file -e "$sha^{commit}" 2>/dev/null || git -C "$context" fetch --quiet "$repo" "$sha"
  git -C "$context" -c advice.detachedHead=false checkout --quiet --detach "$sha"
  ok "checked out $(git -C "$context" rev-parse --short HEAD)"
  if [[ $ref == HEAD && -n $(git -C "$repo" status --porcelain --untracked-files=normal 2>/dev/null) ]]; then
    note "the working tree has uncommitted changes, which this does not test (--worktree does)"
  fi
fi
dockerfile=$context/Dockerfile
[[ -f $dockerfile ]] || fail "no Dockerfile in the context"
elapsed

# Paths .dockerignore leaves out of the context (plain paths only: enough to notice a COPY of something ignored).
ignored=()
if [[ -f $context/.dockerignore ]]; then
  while IFS= read -r pattern; do
    pattern=${pattern%$'\r'}
    pattern=${pattern#/}
    pattern=${pattern%/}
    [[ -z $pattern || $pattern == \#* || $pattern == !* || $pattern == *[\*\?\[]* ]] && continue
    ignored+=("$pattern")
  done <"$context/.dockerignore"
fi

# One instruction a line: comments and blank lines dropped, continuation lines joined.
instructions() {
  awk '
    { sub(/\r$/, "") }
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*$/ { next }
    {
      line = $0
      if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); acc = acc line " "; next }
      acc = acc line
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", acc)
      print acc
      acc = ""
    }
    END { if (acc != "") { gsub(/^[[:space:]]+|[[:space:]]+$/, "", acc); print acc } }
  ' "$1"
}

# A JSON array of strings (exec form) as NUL-separated words.
json_words() {
  node -e '
    const words = JSON.parse(process.argv[1]);
    if (!Array.isArray(words) || !words.every((w) => typeof w === "string")) throw new Error("not an array of strings");
    process.stdout.write(words.map((w) => w + "\0").join(""));
  ' "$1"
}

# --- Replaying the stages ---------------------------------------------------------------------------------------
declare -A stage_roots=()
stage_count=0
images=()
root='' workdir=/ user=root expose='' healthcheck='' healthcheck_options='' cmd=''
stage_env=()

in_stage() { [[ -n $root ]] || fail "$1 before the first FROM"; }
stage_path() { # an image path (absolute, or relative to WORKDIR) in the current stage's directory
  if [[ $1 == /* ]]; then printf '%s%s' "$root" "$1"; else printf '%s%s/%s' "$root" "${workdir%/}" "$1"; fi
}

mapfile -t lines < <(instructions "$dockerfile")
[[ ${#lines[@]} -gt 0 ]] || fail "the Dockerfile has no instructions"
for line in "${lines[@]}"; do
  keyword=${line%%[[:space:]]*}
  args=${line:${#keyword}}
  args=${args#"${args%%[![:space:]]*}"}
  keyword=${keyword^^}
  case $keyword in
    FROM)
      read -r -a words <<<"$args"
      [[ ${words[0]:-} == --platform=* ]] && words=("${words[@]:1}")
      image=${words[0]:-}
      name=
      [[ ${#words[@]} -ge 3 && ${words[1]^^} == AS ]] && name=${words[2]}
      [[ -n $image ]] || fail "FROM without an image"
      [[ -z ${stage_roots[$image]:-} ]] || fail "FROM $image (an earlier stage) is not replayed by this script"
      [[ $image != *'$'* ]] || fail "FROM $image: build arguments are not replayed by this script"
      stage_count=$((stage_count + 1))
      root=$work/stage-$stage_count${name:+-$name}
      mkdir -p "$root"
      chmod 755 "$root"
      stage_roots[$((stage_count - 1))]=$root
      [[ -n $name ]] && stage_roots[$name]=$root
      images+=("$image")
      workdir=/ user=root expose='' healthcheck='' healthcheck_options='' cmd=''
      stage_env=()
      step "Stage $stage_count${name:+ ($name)}: FROM $image"
      ;;
    WORKDIR)
      in_stage WORKDIR
      [[ $args == /* ]] && workdir=$args || workdir=${workdir%/}/$args
      mkdir -p "$root$workdir"
      chmod 755 "$root$workdir"
      printf '    WORKDIR %s\n' "$workdir"
      ;;
    ENV)
      in_stage ENV
      [[ $args != *[\"\'\$\\]* ]] || fail "ENV $args: quotes, escapes and \$ expansion are not replayed by this script"
      read -r -a words <<<"$args"
      if [[ ${words[0]:-} != *=* ]]; then
        stage_env+=("${words[0]}=${words[*]:1}")
      else
        for word in "${words[@]}"; do
          [[ $word == *=* ]] || fail "ENV $args: mixes the two forms"
          stage_env+=("$word")
        done
      fi
      printf '    ENV %s\n' "$args"
      ;;
    COPY | ADD)
      in_stage "$keyword"
      [[ $keyword == COPY ]] || fail "ADD is not replayed by this script (COPY is)"
      [[ $args != \[* ]] || fail "COPY in JSON form is not replayed by this script"
      read -r -a words <<<"$args"
      from=
      while [[ ${words[0]:-} == --* ]]; do
        case ${words[0]} in
          --from=*) from=${words[0]#--from=} ;;
          --chown=* | --chmod=* | --link | --link=*) ;; # ownership: everything here belongs to whoever runs this
          *) fail "COPY ${words[0]} is not replayed by this script" ;;
        esac
        words=("${words[@]:1}")
      done
      [[ ${#words[@]} -ge 2 ]] || fail "COPY $args: needs a source and a destination"
      dest=${words[-1]}
      sources=("${words[@]:0:${#words[@]}-1}")
      if [[ -n $from ]]; then
        source_root=${stage_roots[$from]:-}
        [[ -n $source_root ]] || fail "COPY --from=$from: not an earlier stage (copying from an image is not replayed)"
      fi
      target=$(stage_path "$dest")
      into_dir=0
      [[ $dest == */ || ${#sources[@]} -gt 1 || -d $target ]] && into_dir=1
      for src in "${sources[@]}"; do
        [[ $src != *[\*\?\[]* ]] || fail "COPY $src: wildcards are not replayed by this script"
        if [[ -n $from ]]; then
          [[ $src == /* ]] || src=/$src
          path=$source_root$src
          shown="$from:$src"
        else
          clean=${src#./}
          clean=${clean%/}
          for pattern in "${ignored[@]}"; do
            [[ $clean == "$pattern" || $clean == "$pattern"/* ]] && fail "COPY $src: .dockerignore leaves it out of the context"
          done
          path=$context/$clean
          shown=$src
        fi
        [[ -e $path ]] || fail "COPY $shown: not found${from:+ in stage $from}${from:- in the build context}"
        if [[ -d $path ]]; then
          mkdir -p "$target"
          cp -a "$path/." "$target/"
        elif [[ $into_dir == 1 ]]; then
          mkdir -p "$target"
          cp -a "$path" "$target/"
        else
          mkdir -p "$(dirname "$target")"
          cp -a "$path" "$target"
        fi
      done
      printf '    COPY %s\n' "$args"
      ;;
    RUN)
      in_stage RUN
      command=$args
      while [[ $command == --* ]]; do # --mount=type=cache and the like: build-time plumbing only
        command=${command#*[[:space:]]}
        command=${command#"${command%%[![:space:]]*}"}
      done
      npm_only='^npm [-A-Za-z0-9 ._:/=@]+( && npm [-A-Za-z0-9 ._:/=@]+)*$'
      [[ $command =~ $npm_only ]] ||
        fail "RUN $command: only npm commands (joined with &&) are replayed by this script"
      runnable=()
      IFS=$'\n' read -r -d '' -a parts < <(printf '%s' "$command" | sed 's/ && /\n/g'; printf '\0') || true
      for part in "${parts[@]}"; do
        if [[ $part == 'npm cache clean'* ]]; then
          note "skipped \`$part\` (it would empty this machine's npm cache)"
          continue
        fi
        runnable+=("$part")
      done
      for part in "${runnable[@]}"; do
        printf '    RUN %s\n' "$part"
        t=$SECONDS
        (cd "$root$workdir" && env ${stage_env[@]+"${stage_env[@]}"} sh -c "$part") 2>&1 | sed 's/^/    | /' ||
          fail "RUN $part exited non-zero"
        printf '    (%ss)\n' "$((SECONDS - t))"
      done
      ;;
    USER)
      in_stage USER
      user=$args
      printf '    USER %s\n' "$user"
      ;;
    EXPOSE)
      in_stage EXPOSE
      expose=$args
      printf '    EXPOSE %s\n' "$args"
      ;;
    HEALTHCHECK)
      in_stage HEALTHCHECK
      if [[ ${args^^} == NONE ]]; then
        healthcheck='' healthcheck_options=NONE
      else
        rest=$args healthcheck_options=
        while [[ $rest == --* ]]; do
          option=${rest%%[[:space:]]*}
          healthcheck_options+="$option "
          rest=${rest:${#option}}
          rest=${rest#"${rest%%[![:space:]]*}"}
        done
        [[ ${rest:0:4} == CMD[[:space:]] ]] || fail "HEALTHCHECK without CMD: $args"
        healthcheck=${rest:4}
        healthcheck=${healthcheck#"${healthcheck%%[![:space:]]*}"}
      fi
      printf '    HEALTHCHECK %s\n' "$args"
      ;;
    CMD)
      in_stage CMD
      cmd=$args
      printf '    CMD %s\n' "$args"
      ;;
    LABEL | STOPSIGNAL | VOLUME | MAINTAINER)
      in_stage "$keyword"
      [[ $keyword != STOPSIGNAL || ${args^^} == SIGTERM || $args == 15 ]] || fail "STOPSIGNAL $args: only SIGTERM is replayed"
      printf '    %s %s (nothing to replay)\n' "$keyword" "$args"
      ;;
    *) fail "$keyword is not replayed by this script: $line" ;;
  esac
done
elapsed

# --- The final stage, run as the image would run ------------------------------------------------------------------
step "Runtime: the final stage's CMD"
[[ -n $cmd ]] || fail "the final stage has no CMD"
[[ -n $healthcheck ]] || fail "the final stage has no HEALTHCHECK"
if [[ $cmd == \[* ]]; then
  mapfile -d '' -t cmd_words < <(json_words "$cmd")
  [[ ${#cmd_words[@]} -gt 0 ]] || fail "CMD is not a JSON array of strings: $cmd"
else
  cmd_words=(/bin/sh -c "$cmd")
fi
if [[ $healthcheck == \[* ]]; then
  mapfile -d '' -t health_words < <(json_words "$healthcheck")
  [[ ${#health_words[@]} -gt 0 ]] || fail "HEALTHCHECK CMD is not a JSON array of strings: $healthcheck"
else
  health_words=(/bin/sh -c "$healthcheck")
fi
health_timeout=30
[[ $healthcheck_options =~ --timeout=([0-9]+)s ]] && health_timeout=${BASH_REMATCH[1]}

image_port=
for kv in ${stage_env[@]+"${stage_env[@]}"}; do [[ $kv == PORT=* ]] && image_port=${kv#PORT=}; done
image_port=${image_port:-4000} # the gateway's default
exposed=" ${expose//\/tcp/} "
[[ $exposed == *" $image_port "* ]] || fail "EXPOSE '$expose' does not include the port the gateway listens on ($image_port)"
ok "EXPOSE $expose matches PORT $image_port"

image_node=$(sed -nE 's/^node:([0-9]+).*/\1/p' <<<"${images[-1]}")
host_node=$(node -p 'process.versions.node')
if [[ -n $image_node && $image_node != "${host_node%%.*}" ]]; then
  note "replayed with this machine's node $host_node; the image has node $image_node"
fi

as_user=()
run_as=$(id -un)
if [[ ${user:-root} != root && ${user:-root} != 0 && $EUID == 0 ]]; then
  if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    as_user=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
    run_as="nobody (standing in for USER $user)"
  else
    note "USER $user: running as root here (no setpriv or no nobody user)"
  fi
fi

port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
# The container's environment: its ENV and nothing of this machine's beyond PATH (no GITLAB_URL: demo mode).
container_env=(PATH="$PATH" HOME=/nonexistent ${stage_env[@]+"${stage_env[@]}"} PORT="$port")
log=$work/gateway.log
appdir=$root$workdir
(cd "$appdir" && exec env -i "${container_env[@]}" ${as_user[@]+"${as_user[@]}"} "${cmd_words[@]}") >"$log" 2>&1 &
server_pid=$!
printf '    started %s as %s, PORT=%s (pid %s)\n' "${cmd_words[*]}" "$run_as" "$port" "$server_pid"

show_log() {
  printf '    --- gateway output (last 30 lines) ---\n' >&2
  tail -n 30 "$log" | sed 's/^/    | /' >&2
}
alive() { kill -0 "$server_pid" 2>/dev/null; }
# GET or POST; prints the status on the first line (000 when nothing answered), then the body.
http() {
  # shellcheck disable=SC2016 # JavaScript template literals
  node -e '
    const [method, url, body, token] = process.argv.slice(1);
    const headers = body ? { "content-type": "application/json", authorization: `Bearer ${token}` } : {};
    fetch(url, { method, headers, body: body || undefined, signal: AbortSignal.timeout(5000) })
      .then(async (r) => process.stdout.write(`${r.status}\n${await r.text()}`))
      .catch((e) => process.stdout.write(`000\n${e.message}`));
  ' "$@"
}
base=http://127.0.0.1:$port

deadline=$((SECONDS + 30))
status=000
while [[ $SECONDS -lt $deadline ]]; do
  alive || { show_log; fail "the gateway exited before answering /healthz"; }
  response=$(http GET "$base/healthz")
  status=${response%%$'\n'*}
  [[ $status == 000 ]] || break
  sleep 0.3
done
[[ $status == 200 ]] || { show_log; fail "/healthz answered $status (body: ${response#*$'\n'})"; }
ok "/healthz 200 after $((SECONDS - step_started))s"

status=000
while [[ $SECONDS -lt $deadline ]]; do
  alive || { show_log; fail "the gateway exited before /readyz answered 200"; }
  response=$(http GET "$base/readyz")
  status=${response%%$'\n'*}
  [[ $status == 200 ]] && break
  sleep 0.5
done
[[ $status == 200 ]] || { show_log; fail "/readyz did not answer 200 within 30 s (last: $status ${response#*$'\n'})"; }
ok "/readyz 200 after $((SECONDS - step_started))s: ${response#*$'\n'}"

response=$(http GET "$base/graphiql-assets/graphiql.css")
[[ ${response%%$'\n'*} == 200 ]] || { show_log; fail "GraphiQL's stylesheet answered ${response%%$'\n'*} (not copied into dist/ by the build?)"; }
ok "GraphiQL's assets served from the build (dist/graphiql-assets)"

# The demo-mode start-up line is JSON, like every line: the token is its adminToken field.
token=$(sed -nE 's/.*"adminToken":"([^"]+)".*/\1/p' "$log" | head -n 1)
[[ -n $token ]] || { show_log; fail "no start-up line with the demo adminToken in the gateway's output"; }
query='{"query":"{ modelRecords(model: CI_JOB_ARTIFACT, first: 2) { totalCount nodes { id recordIdentifier } } }"}'
response=$(http POST "$base/graphql" "$query" "$token")
status=${response%%$'\n'*}
body=${response#*$'\n'}
node -e '
  const body = JSON.parse(process.argv[1]);
  const connection = body.data && body.data.modelRecords;
  if (body.errors || !connection || !(connection.totalCount > 0) || connection.nodes.length === 0) process.exit(1);
' "$body" 2>/dev/null || { show_log; fail "GraphQL query: $status $body"; }
[[ $status == 200 ]] || { show_log; fail "GraphQL query answered $status: $body"; }
ok "GraphQL query with the demo token: $(cut -c1-120 <<<"$body")"

run_healthcheck() {
  (cd "$appdir" && exec env -i "${container_env[@]}" ${as_user[@]+"${as_user[@]}"} timeout "$health_timeout" "${health_words[@]}") >/dev/null 2>&1
}
if run_healthcheck; then
  ok "the Dockerfile's HEALTHCHECK command exits 0"
else
  code=$?
  show_log
  fail "the Dockerfile's HEALTHCHECK command exited $code: ${health_words[*]}"
fi
elapsed

step "Shutdown: SIGTERM"
kill -TERM "$server_pid"
deadline=$((SECONDS + 20))
while alive && [[ $SECONDS -lt $deadline ]]; do sleep 0.2; done
if alive; then
  show_log
  fail "still running 20 s after SIGTERM"
fi
code=0
wait "$server_pid" || code=$?
server_pid=
[[ $code == 0 ]] || { show_log; fail "exit code $code after SIGTERM (expected 0)"; }
ok "exited 0 after $((SECONDS - step_started))s"
if run_healthcheck; then fail "the HEALTHCHECK command exits 0 with no gateway running: it checks nothing"; fi
ok "the HEALTHCHECK command fails once the gateway is gone"

printf '\nAll image steps passed in %ss.\n' "$((SECONDS - started))"
