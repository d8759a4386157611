#!/usr/bin/env bash
# Starts moto's server (S3 and SQS emulation, scripts/moto_server.py) on a free loopback port and
# waits until it answers.
# Usage: source scripts/moto.sh
# Sets MOTO_PID and exports AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SQS (one server serves both)
# plus dummy credentials and a region. The caller stops it by PID: kill "$MOTO_PID".
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! "$root/scripts/ensure-venv.sh" moto; then
  echo "could not install moto into .venv" >&2
  return 1 2>/dev/null || exit 1
fi
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$root/.venv/bin/python" "$root/scripts/moto_server.py" "$MOTO_PORT" >"${MOTO_LOG:-/dev/null}" 2>&1 &
MOTO_PID=$!
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
moto_up=""
for _ in $(seq 1 150); do
  # moto answers its dashboard's API once Flask serves requests.
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" 2>/dev/null; then
    moto_up=1
    break
  fi
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$moto_up" ]; then
  echo "moto did not answer on 127.0.0.1:$MOTO_PORT" >&2
  kill "$MOTO_PID" 2>/dev/null
  return 1 2>/dev/null || exit 1
fi
