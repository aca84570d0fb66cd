// Why a server could not listen, said as a setting error: one line naming the setting, for the gateway and the stand-in.

/** The line for a listen() failure caused by its settings, or null for any other failure (a bug: let it surface). */
export function listenFailure(error: unknown, names: { port: string; host: string }, port: number, host: string): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `${names.port} ${port} is already in use on ${host}`;
    case 'EACCES':
      return `${names.port} ${port} needs privileges this process does not have`;
    case 'EADDRNOTAVAIL':
      return `${names.host} "${host}" is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${names.host} "${host}" is not an address or a name this machine can resolve`;
    default:
      return null;
  }
}
