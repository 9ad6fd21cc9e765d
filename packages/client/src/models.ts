import type { RtConnection, RtStream, RtVideoDimensions, VideoType } from '@tokhost/protocol';

/** A client connected to the session (OpenTok.js `Connection`). */
export class Connection {
  readonly connectionId: string;
  readonly id: string;
  readonly creationTime: number;
  readonly data: string;
  constructor(rt: RtConnection) {
    this.connectionId = rt.connectionId;
    this.id = rt.connectionId;
    this.creationTime = rt.creationTime;
    this.data = rt.data;
  }
}

/** A published stream (OpenTok.js `Stream`); properties update in place on `streamPropertyChanged`. */
export class Stream {
  readonly streamId: string;
  readonly id: string;
  readonly connection: Connection;
  readonly creationTime: number;
  name: string;
  hasAudio: boolean;
  hasVideo: boolean;
  /** The publisher publishes live captions (`publishCaptions`). */
  hasCaptions: boolean;
  videoType: VideoType | undefined;
  videoDimensions: RtVideoDimensions | undefined;
  frameRate: number | undefined;
  layoutClassList: string[];
  constructor(rt: RtStream, connection: Connection) {
    this.streamId = rt.streamId;
    this.id = rt.streamId;
    this.connection = connection;
    this.creationTime = rt.creationTime;
    this.name = rt.name;
    this.hasAudio = rt.hasAudio;
    this.hasVideo = rt.hasVideo;
    this.hasCaptions = rt.hasCaptions === true;
    this.videoType = rt.videoType ?? undefined;
    this.videoDimensions = rt.videoDimensions ?? undefined;
    this.frameRate = rt.frameRate ?? undefined;
    this.layoutClassList = [...rt.layoutClassList];
  }

  /** Apply the server's view of the stream. */
  update(rt: RtStream): void {
    this.name = rt.name;
    this.hasAudio = rt.hasAudio;
    this.hasVideo = rt.hasVideo;
    this.hasCaptions = rt.hasCaptions === true;
    this.videoType = rt.videoType ?? undefined;
    this.videoDimensions = rt.videoDimensions ?? undefined;
    this.layoutClassList = [...rt.layoutClassList];
  }
}
