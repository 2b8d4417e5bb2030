#!/usr/bin/env node
// A real systemd host for end-to-end provisioning tests: a Debian 12 root file system made with
// debootstrap (cached), booted with systemd-nspawn in its own network namespace, reachable over SSH
// at its own address, with NAT so apt works inside. Needs root.
//
//   node scripts/test-host.mjs create [--json]     boots a fresh host, prints its address and key
//                                                  (logins: root, and admin with passwordless sudo)
//   node scripts/test-host.mjs destroy NAME        powers it off and removes everything it made
//   node scripts/test-host.mjs list                hosts this script started and has not destroyed
//
// Everything a run makes is named updraft-th-<id>: the netns, the veth pair, the nft table, the
// machine, the copy of the root file system; state lives in /run/updraft-test-host/<name>.json.
import { $, fs, path, sleep } from 'zx';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import ssh2 from 'ssh2';

$.verbose = false;
const CACHE = process.env.UPDRAFT_TEST_HOST_CACHE || '/var/cache/updraft-test-host';
const STATE = '/run/updraft-test-host';
const SUITE = 'bookworm';
const PACKAGES = 'systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,ca-certificates';

async function ensureTools() {
  const missing = [];
  for (const [bin, pkg] of [
    ['debootstrap', 'debootstrap'],
    ['systemd-nspawn', 'systemd-container'],
    ['nft', 'nftables'],
  ]) {
    if ((await $`command -v ${bin}`.nothrow()).exitCode !== 0) missing.push(pkg);
  }
  if (missing.length) {
    log(`installing ${missing.join(' ')}`);
    await $`apt-get install -y -o DPkg::Lock::Timeout=300 ${missing}`.nothrow().then(async (r) => {
      if (r.exitCode !== 0) {
        await $`apt-get update -o DPkg::Lock::Timeout=300`;
        await $`apt-get install -y -o DPkg::Lock::Timeout=300 ${missing}`;
      }
    });
  }
}

function log(line) {
  process.stderr.write(`test-host: ${line}\n`);
}

/** The cached base root file system, made once (about a minute) and reused. */
async function baseRootfs() {
  const base = path.join(CACHE, `rootfs-${SUITE}`);
  if (await fs.pathExists(path.join(base, 'etc/os-release'))) return base;
  await fs.mkdirp(CACHE);
  const building = path.join(CACHE, `rootfs-${SUITE}.building-${process.pid}`);
  log(`debootstrap ${SUITE} into ${building} (first run only)`);
  await $`debootstrap --variant=minbase --include=${PACKAGES} ${SUITE} ${building} http://deb.debian.org/debian`;
  await fs.rename(building, base).catch(async (e) => {
    // Another run finished first: use its copy.
    if (await fs.pathExists(path.join(base, 'etc/os-release'))) await fs.remove(building);
    else throw e;
  });
  return base;
}

function waitForPort(host, port, deadlineMs) {
  const end = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = createConnection({ host, port, timeout: 1000 });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      const retry = () => {
        sock.destroy();
        if (Date.now() > end) reject(new Error(`${host}:${port} did not open in time`));
        else setTimeout(attempt, 250);
      };
      sock.once('error', retry);
      sock.once('timeout', retry);
    };
    attempt();
  });
}

async function pickSubnet() {
  const used = (await $`ip -4 -o addr`).stdout;
  for (;;) {
    const n = 10 + Math.floor(Math.random() * 240);
    if (!used.includes(`10.213.${n}.`)) return `10.213.${n}`;
  }
}

async function create() {
  await ensureTools();
  const base = await baseRootfs();
  const id = randomBytes(3).toString('hex');
  const name = `updraft-th-${id}`;
  const hostVeth = `uth${id}h`;
  const guestVeth = `uth${id}g`;
  const subnet = await pickSubnet();
  const hostAddr = `${subnet}.1`;
  const address = `${subnet}.2`;
  const dir = path.join(CACHE, 'hosts', name);
  const rootfs = path.join(dir, 'rootfs');
  const state = {
    name,
    address,
    hostAddr,
    subnet: `${subnet}.0/24`,
    hostVeth,
    dir,
    rootfs,
    pid: null,
    keyFile: path.join(dir, 'id_ed25519'),
  };
  await fs.mkdirp(STATE);
  await fs.writeJson(path.join(STATE, `${name}.json`), state);
  try {
    log(`copying root file system to ${rootfs}`);
    await fs.mkdirp(dir);
    await $`cp -a --reflink=auto ${base} ${rootfs}`;

    const keys = ssh2.utils.generateKeyPairSync('ed25519', { comment: name });
    await fs.writeFile(state.keyFile, keys.private, { mode: 0o600 });
    await fs.mkdirp(path.join(rootfs, 'root/.ssh'), { mode: 0o700 });
    await fs.chmod(path.join(rootfs, 'root/.ssh'), 0o700);
    await fs.writeFile(path.join(rootfs, 'root/.ssh/authorized_keys'), keys.public + '\n', { mode: 0o600 });
    // A non-root login with passwordless sudo, as on cloud images (admin on Debian's).
    await $`chroot ${rootfs} useradd --create-home --shell /bin/bash admin`;
    await fs.mkdirp(path.join(rootfs, 'home/admin/.ssh'));
    await fs.writeFile(path.join(rootfs, 'home/admin/.ssh/authorized_keys'), keys.public + '\n', {
      mode: 0o600,
    });
    await $`chroot ${rootfs} sh -c ${'chmod 700 /home/admin/.ssh && chown -R admin:admin /home/admin/.ssh'}`;
    await fs.writeFile(path.join(rootfs, 'etc/sudoers.d/admin'), 'admin ALL=(ALL) NOPASSWD:ALL\n', {
      mode: 0o440,
    });
    await fs.writeFile(path.join(rootfs, 'etc/hostname'), `${name}\n`);
    const nameserver =
      ((await fs.readFile('/etc/resolv.conf', 'utf8')).match(/^nameserver\s+(\S+)/m) ?? [])[1] ?? '1.1.1.1';
    await fs.remove(path.join(rootfs, 'etc/resolv.conf'));
    await fs.writeFile(path.join(rootfs, 'etc/resolv.conf'), `nameserver ${nameserver}\n`);
    await fs.writeFile(
      path.join(rootfs, 'etc/apt/sources.list'),
      `deb http://deb.debian.org/debian ${SUITE} main\ndeb http://deb.debian.org/debian-security ${SUITE}-security main\n`,
    );
    // A booting container needs no getty on a console nobody watches.
    await $`ln -sf /dev/null ${path.join(rootfs, 'etc/systemd/system/console-getty.service')}`;

    await $`ip netns add ${name}`;
    await $`ip link add ${hostVeth} type veth peer name ${guestVeth}`;
    await $`ip link set ${guestVeth} netns ${name}`;
    await $`ip addr add ${hostAddr}/24 dev ${hostVeth}`;
    await $`ip link set ${hostVeth} up`;
    await $`ip -n ${name} addr add ${address}/24 dev ${guestVeth}`;
    await $`ip -n ${name} link set ${guestVeth} up`;
    await $`ip -n ${name} link set lo up`;
    await $`ip -n ${name} route add default via ${hostAddr}`;
    await $`sysctl -qw net.ipv4.ip_forward=1`;
    const table = name.replace(/-/g, '_');
    await $`nft add table ip ${table}`;
    await $`nft ${`add chain ip ${table} postrouting { type nat hook postrouting priority 100 ; }`}`;
    await $`nft ${`add rule ip ${table} postrouting ip saddr ${state.subnet} masquerade`}`;
    state.nftTable = table;
    await fs.writeJson(path.join(STATE, `${name}.json`), state);

    const out = await fs.open(path.join(dir, 'console.log'), 'a');
    const child = spawn(
      'systemd-nspawn',
      [
        '-q',
        '-b',
        '-D',
        rootfs,
        `--network-namespace-path=/run/netns/${name}`,
        '-M',
        name,
        '--register=no',
        '--keep-unit',
        '--console=passive',
      ],
      { detached: true, stdio: ['ignore', out, out] },
    );
    child.unref();
    state.pid = child.pid;
    await fs.writeJson(path.join(STATE, `${name}.json`), state);
    await waitForPort(address, 22, 60_000);
    log(`${name} is up at ${address} (ssh root@${address} -i ${state.keyFile})`);
    return state;
  } catch (e) {
    await destroy(name).catch(() => {});
    throw e;
  }
}

async function destroy(name) {
  const file = path.join(STATE, `${name}.json`);
  if (!(await fs.pathExists(file))) throw new Error(`no test host named ${name}`);
  const state = await fs.readJson(file);
  if (state.pid) {
    // nspawn powers the container off on SIGTERM; give it a moment, then make sure.
    signal(state.pid, 'SIGTERM');
    for (let i = 0; i < 40 && alive(state.pid); i++) await sleep(250);
    if (alive(state.pid)) {
      signal(state.pid, 'SIGKILL');
      await sleep(300);
    }
  }
  if (state.nftTable) await $`nft delete table ip ${state.nftTable}`.nothrow();
  await $`ip link del ${state.hostVeth}`.nothrow();
  await $`ip netns del ${name}`.nothrow();
  if (state.dir && state.dir.includes('/hosts/updraft-th-')) await fs.remove(state.dir);
  await fs.remove(file);
  log(`${name} destroyed`);
}

/** Send a signal to the process we started; it may have exited already. */
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if (e.code !== 'ESRCH') throw e;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function list() {
  if (!(await fs.pathExists(STATE))) return [];
  const files = (await fs.readdir(STATE)).filter((f) => f.endsWith('.json'));
  return Promise.all(files.map((f) => fs.readJson(path.join(STATE, f))));
}

const [cmd, arg] = process.argv.slice(2).filter((a) => a !== '--json');
if (process.getuid?.() !== 0) {
  log('must run as root (debootstrap, network namespaces, nspawn)');
  process.exit(2);
}
try {
  if (cmd === 'create') console.log(JSON.stringify(await create(), null, 2));
  else if (cmd === 'destroy' && arg) await destroy(arg);
  else if (cmd === 'list') console.log(JSON.stringify(await list(), null, 2));
  else {
    log('usage: test-host.mjs create | destroy NAME | list');
    process.exit(2);
  }
} catch (e) {
  log(e.stderr || e.message);
  process.exit(1);
}
