import { BooleanQuery, SeqQuery } from '../../common/pagination/query-params.js';

export class SendQuery {
  @BooleanQuery('Wait for the agent run to finish and return its reply too')
  wait?: boolean;
}

export class EventsQuery {
  @SeqQuery('Replay messages after this seq before going live (Last-Event-ID takes precedence)')
  afterSeq?: number;
}
