import { renderTemplate } from '../engine/templates.js';
import { command, file, packages, service, type Resource } from '../engine/resources.js';
import type { OsFamily } from '../engine/facts.js';
import type { Playbook } from './types.js';
import { sq } from '../remote/shell.js';

export interface DatabaseLayout {
  /** What is installed, for messages and docs. */
  server: string;
  service: string;
  socket: string;
  conf: string;
}

export const DATABASE_LAYOUT: Record<OsFamily, DatabaseLayout> = {
  al2: {
    server: 'MySQL 5.7 (community repo, el7)',
    service: 'mysqld',
    socket: '/var/lib/mysql/mysql.sock',
    conf: '/etc/my.cnf.d/updraft.cnf',
  },
  al2023: {
    server: 'MySQL 8.4 LTS (community repo, el9)',
    service: 'mysqld',
    socket: '/var/lib/mysql/mysql.sock',
    conf: '/etc/my.cnf.d/updraft.cnf',
  },
  debian12: {
    server: 'MariaDB (Debian)',
    service: 'mariadb',
    socket: '/run/mysqld/mysqld.sock',
    conf: '/etc/mysql/mariadb.conf.d/60-updraft.cnf',
  },
  ubuntu2204: {
    server: 'MariaDB (Ubuntu)',
    service: 'mariadb',
    socket: '/run/mysqld/mysqld.sock',
    conf: '/etc/mysql/mariadb.conf.d/60-updraft.cnf',
  },
  ubuntu2404: {
    server: 'MariaDB (Ubuntu)',
    service: 'mariadb',
    socket: '/run/mysqld/mysqld.sock',
    conf: '/etc/mysql/mariadb.conf.d/60-updraft.cnf',
  },
};

/** MySQL's package signing keys: 2022 (5.7.37+, 8.0.28+) and 2023 (newer packages). Imported before the repo. */
export const MYSQL_KEYS = [
  { year: 2022, id: '3a79bd29', url: 'https://repo.mysql.com/RPM-GPG-KEY-mysql-2022' },
  { year: 2023, id: 'a8d3785c', url: 'https://repo.mysql.com/RPM-GPG-KEY-mysql-2023' },
];

const MYSQL_REPOS = {
  al2: {
    pkg: 'mysql57-community-release',
    url: 'https://dev.mysql.com/get/mysql57-community-release-el7-11.noarch.rpm',
    keys: MYSQL_KEYS,
  },
  al2023: {
    pkg: 'mysql84-community-release',
    url: 'https://dev.mysql.com/get/mysql84-community-release-el9-1.noarch.rpm',
    keys: MYSQL_KEYS.filter((k) => k.year === 2023),
  },
};

/**
 * The RPM server writes a temporary root password to /var/log/mysqld.log and accepts nothing but
 * ALTER USER until it is changed. The new password goes to /root/.my.cnf.updraft-new first, so a
 * run cut between the ALTER and the rename still finds it next time.
 */
export function rootPasswordScript(newPassword: string): string {
  return [
    'set -e',
    'umask 077',
    'NEW=/root/.my.cnf.updraft-new',
    `printf '[client]\\nuser=root\\npassword=%s\\n' ${sq(newPassword)} > "$NEW.tmp" && mv "$NEW.tmp" "$NEW"`,
    `if mysql --defaults-extra-file="$NEW" -N -e 'SELECT 1' >/dev/null 2>&1; then mv "$NEW" /root/.my.cnf; exit 0; fi`,
    `TMP=$(grep 'temporary password' /var/log/mysqld.log | tail -1 | awk '{print $NF}')`,
    `[ -n "$TMP" ] || { echo 'no temporary root password in /var/log/mysqld.log' >&2; exit 1; }`,
    `MYSQL_PWD="$TMP" mysql --connect-expired-password -uroot <<'SQL'`,
    `ALTER USER 'root'@'localhost' IDENTIFIED BY ${sq(newPassword)};`,
    'SQL',
    'mv "$NEW" /root/.my.cnf',
  ].join('\n');
}

export function grantsCheckScript(user: string, db: string): string {
  return [
    `G=$(mysql -N -e "SHOW GRANTS FOR '${user}'@'localhost'") || exit 1`,
    `echo "$G" | grep -q 'GRANT ALL PRIVILEGES ON .${db}.\\.\\*' || exit 1`,
    // Anything beyond USAGE on *.* and ALL on the airflow database is too much.
    `if echo "$G" | grep -v 'GRANT USAGE ON \\*\\.\\* TO' | grep -v 'GRANT ALL PRIVILEGES ON .${db}.\\.\\* TO' | grep -q .; then exit 1; fi`,
  ].join('\n');
}

/** The metadata database: server, settings, database, a user with privileges on it alone. */
export const mysqlPlaybook: Playbook = ({ facts, stack, secrets }) => {
  const l = DATABASE_LAYOUT[facts.family];
  const pm = facts.packageManager;
  const { name: db, user } = stack.database;
  const server: Resource[] = [];
  if (facts.family === 'al2' || facts.family === 'al2023') {
    const repo = MYSQL_REPOS[facts.family];
    server.push(
      command({
        id: `mysql-signing-keys ${repo.keys.map((k) => k.year).join(' ')}`,
        summary: `import MySQL package signing keys ${repo.keys.map((k) => k.year).join(', ')}`,
        unless: `rpm -q ${repo.keys.map((k) => `gpg-pubkey-${k.id}`).join(' ')}`,
        run: repo.keys.map((k) => `rpm --import ${k.url}`).join(' && '),
      }),
      packages({ manager: pm, names: [repo.pkg], installCommand: `${pm} install -y ${repo.url}` }),
      packages({ manager: pm, names: ['mysql-community-server'] }),
      file({
        path: l.conf,
        content: renderTemplate('mysql-server.cnf', {}),
        mode: 0o644,
        owner: 'root',
        group: 'root',
        notify: [l.service],
      }),
      service({ name: l.service }),
      command({
        id: 'mysql root password',
        summary: 'replace the temporary root password with a generated one (kept in /root/.my.cnf, 0600)',
        unless: `mysql -N -e 'SELECT 1'`,
        run: 'sh -s',
        input: rootPasswordScript(secrets.mysql_root_password),
      }),
    );
  } else {
    server.push(
      packages({ manager: pm, names: ['mariadb-server', 'mariadb-client'] }),
      file({
        path: l.conf,
        content: renderTemplate('mysql-server.cnf', {}),
        mode: 0o644,
        owner: 'root',
        group: 'root',
        notify: [l.service],
      }),
      service({ name: l.service }),
    );
  }
  const pw = secrets.mysql_airflow_password;
  const objects: Resource[] = [
    command({
      id: `database ${db}`,
      summary: `create database ${db} (utf8mb4)`,
      unless: `mysql -N -e "SELECT 1 FROM information_schema.schemata WHERE schema_name = '${db}'" | grep -q 1`,
      run: `mysql -e "CREATE DATABASE IF NOT EXISTS \\\`${db}\\\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"`,
    }),
    command({
      id: `user ${user}@localhost`,
      summary: `create user ${user}@localhost with the stack's password`,
      unless: 'sh -s',
      unlessInput: `MYSQL_PWD=${sq(pw)} mysql -u${user} -N -e 'SELECT 1' ${db} >/dev/null 2>&1`,
      run: 'mysql',
      input: `CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY ${sq(pw)};\nALTER USER '${user}'@'localhost' IDENTIFIED BY ${sq(pw)};\n`,
    }),
    command({
      id: `grants ${user}@localhost`,
      summary: `grant ${user}@localhost all privileges on ${db}.* and nothing else`,
      unless: 'sh -s',
      unlessInput: grantsCheckScript(user, db),
      run: 'mysql',
      input: `REVOKE ALL PRIVILEGES, GRANT OPTION FROM '${user}'@'localhost';\nGRANT ALL PRIVILEGES ON \`${db}\`.* TO '${user}'@'localhost';\n`,
    }),
  ];
  return [
    { id: 'database-server', title: `Database server: ${l.server}`, resources: server },
    { id: 'database', title: `Database ${db} and user ${user}`, resources: objects },
  ];
};
