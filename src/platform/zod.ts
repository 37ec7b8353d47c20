import { z } from 'zod';

// zod compiles a parser for each object schema (`new Function`) unless `jitless` is set before the schema is built,
// so every module takes `z` from here. A command checks each shape a few times, where compiling costs more than it
// saves: ~5 ms and 5 MB of garbage in a quiet `once`.
z.config({ jitless: true });

export { z };
