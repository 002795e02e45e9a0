"""stdin/stdout <-> one TCP connection: an ssh ProxyCommand run inside the VM's namespace (tests/wifi_vm/vm.sh proxy).

    python3 relay.py HOST PORT

Copies bytes both ways until either side closes; exit 1 (with the reason on stderr) if the connection fails.
"""

import os
import selectors
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        conn = socket.create_connection((host, port), timeout=10)
    except OSError as exc:
        sys.stderr.write(f'relay: cannot connect to {host}:{port}: {exc}\n')
        return 1
    conn.settimeout(None)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ)
    sel.register(conn, selectors.EVENT_READ)
    while True:
        for key, _events in sel.select():
            if key.fileobj == stdin:
                data = os.read(stdin, 65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    sel.unregister(stdin)
                    continue
                conn.sendall(data)
            else:
                data = conn.recv(65536)
                if not data:
                    return 0
                while data:
                    data = data[os.write(stdout, data):]


if __name__ == '__main__':
    sys.exit(main())
