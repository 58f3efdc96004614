import { BooleanQuery, SeqQuery, VersionQuery } from '../../common/pagination/query-params.js';

export class SendQuery {
  @BooleanQuery('Wait for the agent run to finish and return its reply too')
  wait?: boolean;
}

export class EventsQuery {
  @VersionQuery('Replay the messages changed after this version before going live (Last-Event-ID takes precedence)')
  afterVersion?: number;

  @SeqQuery('Deprecated, for one release: replay from the first message after this seq (afterVersion takes precedence)')
  afterSeq?: number;
}
