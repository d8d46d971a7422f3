"""Resident memory per idle connection.

usage: hold.py PORT N MODE SERVER_PID      MODE: tcp | http | ws | wsz

Opens 16 warm-up connections, reads the server's VmRSS, then opens N more
to 127.0.0.1:PORT (loopback only), completes one exchange on each (tcp: a
5-byte echo; http: GET /plaintext; ws: an upgrade to /ws/echo and one
echo; wsz: the same with permessage-deflate), waits a second, reads VmRSS
again and prints the difference divided by N. Raise `ulimit -n` first.
"""
import socket, sys, time, os, base64
port=int(sys.argv[1]); n=int(sys.argv[2]); mode=sys.argv[3]; pid=int(sys.argv[4])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])*1024
def one(s):
    if mode=='tcp':
        s.sendall(b'hello'); got=b''
        while len(got)<5: got+=s.recv(64)
    elif mode=='http':
        s.sendall(b'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n'); got=b''
        while b'Hello, World!' not in got: got+=s.recv(4096)
    elif mode in ('ws','wsz'):
        key=base64.b64encode(os.urandom(16))
        ext=b'Sec-WebSocket-Extensions: permessage-deflate\r\n' if mode=='wsz' else b''
        s.sendall(b'GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'+ext+b'Sec-WebSocket-Key: '+key+b'\r\nSec-WebSocket-Version: 13\r\n\r\n'); got=b''
        while b'\r\n\r\n' not in got: got+=s.recv(4096)
        assert (b'permessage-deflate' in got) == (mode=='wsz'), got
        if mode=='wsz':
            import zlib
            c=zlib.compressobj(wbits=-15); payload=c.compress(b'hello hello hello hello hello hello hello hello hello hello hello hello hello hello')+c.flush(zlib.Z_SYNC_FLUSH)
            payload=payload[:-4]; mask=b'\x01\x02\x03\x04'
            frame=bytes([0xC1,0x80|len(payload)])+mask+bytes(b^mask[i%4] for i,b in enumerate(payload))
        else:
            frame=bytes([0x81,0x82,1,2,3,4,ord('h')^1,ord('i')^2])
        s.sendall(frame); got=b''
        while len(got)<4: got+=s.recv(4096)
# warm up: a few connections open and used, so lazily-built shard state exists
warm=[socket.create_connection(('127.0.0.1',port)) for _ in range(16)]
for s in warm: one(s)
time.sleep(0.3)
before=rss()
socks=[]
for i in range(n):
    s=socket.create_connection(('127.0.0.1',port)); one(s); socks.append(s)
time.sleep(1.0)
after=rss()
import urllib.request
try:
    st=urllib.request.urlopen(f'http://127.0.0.1:{port}/stats').read().decode()
    import json; print('server open connections:', json.loads(st)['connections']['open'])
except Exception as e: pass
print(f"{mode}: {n} idle connections: RSS {before/1048576:.1f} MiB -> {after/1048576:.1f} MiB = {(after-before)/n:.0f} bytes per connection")
