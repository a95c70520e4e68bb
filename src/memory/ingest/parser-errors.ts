/** The errors of document parsing past its limits (`ParserPool`), shared by the pool and its workers. */
import { IngestionError } from '../../security/local-paths.js';

export type ParserLimit = 'time' | 'memory' | 'pages' | 'input' | 'output';

/** A document whose parsing was stopped by a limit; its item is marked failed with this message. */
export class ParserLimitError extends IngestionError {
  constructor(
    readonly limit: ParserLimit,
    message: string,
  ) {
    super(message);
    this.name = 'ParserLimitError';
  }

  static time(timeoutMs: number): ParserLimitError {
    return new ParserLimitError('time', `Parsing the document took longer than its time limit of ${timeoutMs} ms (PARSER_TIMEOUT_MS).`);
  }

  static memory(maxMemoryMb: number): ParserLimitError {
    return new ParserLimitError('memory', `Parsing the document needed more than its memory limit of ${maxMemoryMb} MB (PARSER_MAX_MEMORY_MB).`);
  }

  static pages(pages: number, maxPages: number): ParserLimitError {
    return new ParserLimitError('pages', `The PDF document has ${pages} pages; at most ${maxPages} are read (PARSER_MAX_PAGES).`);
  }

  static input(bytes: number, maxBytes: number): ParserLimitError {
    return new ParserLimitError('input', `The document is ${bytes} bytes; at most ${maxBytes} bytes are parsed (PARSER_MAX_INPUT_BYTES).`);
  }

  static output(maxChars: number): ParserLimitError {
    return new ParserLimitError('output', `The document's text is longer than ${maxChars} characters (PARSER_MAX_OUTPUT_CHARS).`);
  }
}

/** What a parse may produce, checked inside the parsers. */
export interface ParseLimits {
  /** Pages of a PDF document read at most; a longer document fails. */
  readonly maxPages?: number;
  /** Characters of text at most; a longer text fails. */
  readonly maxOutputChars?: number;
}
